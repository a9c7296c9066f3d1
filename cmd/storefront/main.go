// Command storefront serves the store: save a card with Stripe Checkout in
// setup mode, charge it later off-session.
//
// Usage:
//
//	storefront [serve]   run the web server (the default)
//	storefront migrate   apply database migrations and exit
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/joho/godotenv"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/config"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/web"
	"github.com/storefront/storefront/migrations"
	assets "github.com/storefront/storefront/web"
)

func main() {
	// .env never overrides what the environment already sets.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "storefront: read .env:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "storefront:", err)
		os.Exit(1)
	}
}

// run is the whole program, minus the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	command := "serve"
	if len(args) > 0 {
		command, args = args[0], args[1:]
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch command {
	case "serve":
		return serve(ctx, getenv, stdout, log, nil)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", command, usage)
	}
}

const usage = `usage: storefront [command]

commands:
  serve     run the web server (default)
  migrate   apply database migrations and exit

Configuration comes from the environment and .env; see .env.example.
`

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx, migrations.FS)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, name := range applied {
		fmt.Fprintln(stdout, "applied", name)
	}
	return nil
}

func openDatabase(ctx context.Context, cfg config.Config) (*postgres.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w\n(is PostgreSQL running? set DATABASE_URL to point at it)", err)
	}
	return db, nil
}

// serve runs the web server until ctx is cancelled, then drains it. ready,
// when not nil, receives the listening address once requests are accepted.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer, log *slog.Logger, ready chan<- string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx, migrations.FS); err != nil {
		return err
	}

	gateway := stripeapi.New(stripeapi.Config{SecretKey: cfg.StripeSecretKey, APIBase: cfg.StripeAPIBase, Logger: log})
	svc := billing.NewService(db, gateway, billing.Options{BaseURL: cfg.BaseURL, Currency: cfg.Currency, Logger: log})
	srv, err := web.NewServer(web.Options{
		Service:       svc,
		AdminPassword: cfg.AdminPassword,
		LocalMode:     cfg.LocalMode(),
		Assets:        assets.FS,
		Logger:        log,
	})
	if err != nil {
		return err
	}

	listener, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "storefront listening on %s\n", cfg.BaseURL)
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(listener) }()
	if ready != nil {
		ready <- listener.Addr().String()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Command storefront serves the store: save a card with Stripe Checkout in
// setup mode, charge it later off-session.
//
// Usage:
//
//	storefront [serve] [--no-workers]   run the web server (the default)
//	storefront migrate   apply database migrations and exit
//	storefront reset-local  start local mode afresh (asks first)
//	storefront sync      apply Stripe events that were missed
//	storefront events replay EVENT_ID
//	storefront charge --customer EMAIL_OR_ID --amount 10.99
//	storefront orders charge --status placed [--yes] [--wait]
//	storefront staff add|list|disable
//	storefront emulator  run the local Stripe emulator alone
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/joho/godotenv"

	"github.com/storefront/storefront/internal/config"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/migrations"
)

func main() {
	// .env never overrides what the environment already sets.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "storefront: read .env:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "storefront:", err)
		os.Exit(1)
	}
}

// run is the whole program, minus the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	command := "serve"
	if len(args) > 0 {
		command, args = args[0], args[1:]
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch command {
	case "serve":
		return serve(ctx, args, getenv, stdout, log)
	case "emulator":
		return runEmulator(ctx, args, stdout, log)
	case "sync":
		return runSync(ctx, args, getenv, stdout, log)
	case "events":
		return runEvents(ctx, args, getenv, stdout, log)
	case "charge":
		return runCharge(ctx, args, getenv, stdout, log)
	case "orders":
		return runOrders(ctx, args, getenv, stdin, stdout, log)
	case "staff":
		return runStaff(ctx, args, getenv, stdin, stdout)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "reset-local":
		return runResetLocal(ctx, getenv, stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", command, usage)
	}
}

const usage = `usage: storefront [command]

commands:
  serve     run the web server (default) and the background jobs; with no
            STRIPE_SECRET_KEY it runs on a built-in Stripe emulator (local mode);
            --no-workers: web only, jobs run on other replicas (as WORKERS=false)
  migrate   apply database migrations and exit
  reset-local  start local mode afresh: drop its database (asks first)
  sync      apply Stripe events the ledger lacks (--since 720h at most)
  events    replay EVENT_ID: apply one event again
  charge    --customer EMAIL_OR_ID --amount 10.99 [--currency usd] [--payment-method pm_...]
  orders    charge --status placed [--yes] [--wait]: charge every placed order, in
            the background, at most STRIPE_RATE_LIMIT Stripe requests a second
  staff     add EMAIL (password on stdin, or generated) | list | disable EMAIL
  emulator  run the Stripe emulator alone (-port, -webhook-url, -webhook-secret,
            -rate-limit)

Configuration comes from the environment and .env; see .env.example.
`

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	_, db, applied, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, name := range applied {
		fmt.Fprintln(stdout, "applied", name)
	}
	return nil
}

// openStore loads the configuration and opens the database, migrated; it
// returns the migrations it applied.
func openStore(ctx context.Context, getenv func(string) string) (config.Config, *postgres.DB, []string, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, nil, nil, err
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return cfg, nil, nil, err
	}
	applied, err := db.Migrate(ctx, migrations.FS)
	if err != nil {
		db.Close()
		return cfg, nil, nil, err
	}
	return cfg, db, applied, nil
}

func openDatabase(ctx context.Context, cfg config.Config) (*postgres.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := postgres.OpenWith(ctx, cfg.DatabaseURL, postgres.Options{PoolSize: cfg.DatabasePoolSize})
	if err != nil {
		return nil, fmt.Errorf("%w\n(is PostgreSQL running? set DATABASE_URL to point at it)", err)
	}
	return db, nil
}

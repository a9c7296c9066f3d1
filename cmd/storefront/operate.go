package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/config"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/migrations"
)

// operatorService wires billing for a one-shot operator command. Unlike
// serve, it cannot start an emulator of its own: an emulator's events live
// in the process that runs it, so local mode needs STRIPE_API_BASE.
func operatorService(ctx context.Context, getenv func(string) string, log *slog.Logger) (*billing.Service, *postgres.DB, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.LocalMode() && cfg.StripeAPIBase == "" {
		return nil, nil, errors.New("this command reads Stripe: set STRIPE_SECRET_KEY, or STRIPE_API_BASE to a running emulator (storefront emulator)")
	}
	key := cfg.StripeSecretKey
	if key == "" {
		key = localSecretKey
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.Migrate(ctx, migrations.FS); err != nil {
		db.Close()
		return nil, nil, err
	}
	gateway := stripeapi.New(stripeapi.Config{SecretKey: key, APIBase: cfg.StripeAPIBase, Logger: log})
	svc := billing.NewService(db, gateway, billing.Options{
		BaseURL: cfg.BaseURL, Currency: cfg.Currency, APIVersion: stripeapi.APIVersion, Logger: log,
	})
	return svc, db, nil
}

// runSync reconciles the ledger with Stripe's events list.
func runSync(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	flags := flag.NewFlagSet("sync", flag.ContinueOnError)
	flags.SetOutput(stdout)
	since := flags.Duration("since", billing.MaxSyncWindow, "how far back to look (Stripe keeps 30 days of events: 720h at most)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *since <= 0 || *since > billing.MaxSyncWindow {
		return fmt.Errorf("sync: --since must be between 1s and %s", billing.MaxSyncWindow)
	}
	svc, db, err := operatorService(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer db.Close()
	report, err := svc.Sync(ctx, *since)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sync: %d events since %s: %d already applied, %d applied now, %d failed\n",
		report.Found, report.Since.UTC().Format(time.RFC3339), report.AlreadyApplied, report.Applied, len(report.Failed))
	for _, f := range report.Failed {
		fmt.Fprintln(stdout, "  failed:", f)
	}
	if len(report.Failed) > 0 {
		return fmt.Errorf("sync: %d events failed to apply; they are kept in the ledger for the next run", len(report.Failed))
	}
	return nil
}

// runEvents is `events replay EVENT_ID`.
func runEvents(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	if len(args) != 2 || args[0] != "replay" {
		return errors.New("usage: storefront events replay EVENT_ID")
	}
	svc, db, err := operatorService(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer db.Close()
	e, err := svc.ReplayEvent(ctx, args[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %s (%s)\n", e.ID, e.Type)
	return nil
}

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
	"github.com/storefront/storefront/internal/staff"
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
	_, db, _, err := openStore(ctx, getenv)
	if err != nil {
		return nil, nil, err
	}
	svc, err := newService(ctx, cfg, db, newGateway(cfg, db, key, cfg.StripeAPIBase, nil, log), nil, log)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
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
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	shopSvc, err := newShop(ctx, cfg, db, svc, log)
	if err != nil {
		return err
	}
	// Orders follow the events just applied.
	settled, err := shopSvc.SettleAll(ctx)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	fmt.Fprintf(stdout, "sync: %d events since %s: %d already applied, %d applied now, %d failed; %d orders brought up to date\n",
		report.Found, report.Since.UTC().Format(time.RFC3339), report.AlreadyApplied, report.Applied, len(report.Failed), settled)
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
	e, err := svc.ReplayEvent(staff.WithActor(ctx, cliActor()), args[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %s (%s)\n", e.ID, e.Type)
	return nil
}

// runCharge charges a customer's saved card off-session, for operators and
// scripts: it prints the outcome and fails unless the charge succeeded.
func runCharge(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	flags := flag.NewFlagSet("charge", flag.ContinueOnError)
	flags.SetOutput(stdout)
	customerRef := flags.String("customer", "", "the customer: email, id or cus_ id (required)")
	amount := flags.String("amount", "", "the amount as a decimal, e.g. 10.99 (required)")
	currency := flags.String("currency", "", "the currency (default: CURRENCY)")
	paymentMethod := flags.String("payment-method", "", "the card (default: the customer's default card)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *customerRef == "" || *amount == "" {
		return errors.New("usage: storefront charge --customer EMAIL_OR_ID --amount 10.99 [--currency usd] [--payment-method pm_...]")
	}
	svc, db, err := operatorService(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer db.Close()
	customer, err := svc.FindCustomer(ctx, *customerRef)
	if err != nil {
		return fmt.Errorf("charge: customer %s: %w", *customerRef, err)
	}
	pm := *paymentMethod
	if pm == "" {
		if pm, err = svc.DefaultPaymentMethodOf(ctx, customer); err != nil {
			return fmt.Errorf("charge: %w", err)
		}
	} else if owner, err := svc.CustomerOfPaymentMethod(ctx, pm); err != nil || owner != customer.ID {
		return fmt.Errorf("charge: %s is not a card of customer %s", pm, *customerRef)
	}
	attempt, err := svc.Charge(staff.WithActor(ctx, cliActor()), billing.ChargeRequest{PaymentMethodID: pm, Amount: *amount, Currency: *currency})
	if err != nil {
		if attempt.ID != 0 {
			fmt.Fprintf(stdout, "attempt %d: outcome unknown (%v); run again with the admin's Retry to resend the same key\n", attempt.ID, err)
		}
		return fmt.Errorf("charge: %w", err)
	}
	fmt.Fprintf(stdout, "attempt %d: %s %s to %s", attempt.ID, attempt.Status, attempt.Money, attempt.PaymentMethodID)
	if attempt.PaymentIntentID != "" {
		fmt.Fprintf(stdout, " (%s)", attempt.PaymentIntentID)
	}
	fmt.Fprintln(stdout)
	if attempt.Status != billing.ChargeSucceeded {
		if attempt.Dunning.Active() {
			fmt.Fprintf(stdout, "  a decline a later try can fix: charged again automatically from %s; the customer is written to only if the retries fail\n",
				attempt.Dunning.NextRetryAt.UTC().Format(time.RFC3339))
		}
		if attempt.Recoverable() {
			fmt.Fprintf(stdout, "  %s%s; recovery link: %s\n", attempt.FailureCode, prefixed(" / ", attempt.DeclineCode), svc.RecoveryLink(attempt.ID))
		}
		return fmt.Errorf("charge: %s", attempt.Status)
	}
	return nil
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

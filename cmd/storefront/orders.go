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
	"github.com/storefront/storefront/internal/shop"
)

const ordersUsage = "usage: storefront orders charge --status placed [--yes] [--wait]"

// runOrders is `orders charge --status placed`: the admin's "Charge all
// placed orders" for operators. It names the count and total and asks (or
// takes --yes), starts the batch in the operator's name, and with --wait
// prints its progress until every order is done. The charges are made by
// the jobs of the replicas that run workers, not by this command.
func runOrders(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 || args[0] != "charge" {
		return errors.New(ordersUsage)
	}
	flags := flag.NewFlagSet("orders charge", flag.ContinueOnError)
	flags.SetOutput(stdout)
	status := flags.String("status", "", "which orders to charge: placed (the one status a batch charges)")
	yes := flags.Bool("yes", false, "charge without asking")
	wait := flags.Bool("wait", false, "print the batch's progress until every order is done")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if *status != string(shop.Placed) || flags.NArg() > 0 {
		return fmt.Errorf("orders charge: only placed orders are charged in a batch\n%s", ordersUsage)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	_, db, _, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	// Starting a batch calls Stripe nowhere; the gateway is only wiring.
	svc, err := newService(ctx, cfg, db, newGateway(cfg, db, cfg.StripeSecretKey, cfg.StripeAPIBase, nil, log), nil, log)
	if err != nil {
		return err
	}
	shopSvc, err := newShop(ctx, cfg, db, svc, log)
	if err != nil {
		return err
	}
	p, err := shopSvc.PreviewBatch(ctx, shop.BatchSelection{AllPlaced: true})
	if err != nil {
		return fmt.Errorf("orders charge: %w", err)
	}
	fmt.Fprintf(stdout, "%d placed orders (up to #%d), %s in all, each to the card saved with it.\n", p.Count, p.Selection.Through, p.Total())
	if !*yes && !askYes(stdin, stdout, "Type yes to charge them: ") {
		return errors.New("orders charge: not confirmed; nothing was charged")
	}
	b, err := shopSvc.StartBatch(ctx, cliActor(), p.Selection, p.Fingerprint(), billing.NewIdempotencyKey())
	if err != nil {
		return fmt.Errorf("orders charge: %w", err)
	}
	fmt.Fprintf(stdout, "batch #%d: %d orders, %s; charged in the background by the replicas that run workers, %d Stripe requests a second at most (STRIPE_RATE_LIMIT); progress on /admin/orders\n",
		b.ID, b.Orders, b.Total(), cfg.StripeRateLimit)
	if !*wait {
		return nil
	}
	return followBatch(ctx, shopSvc, b.ID, stdout)
}

// followBatch prints a batch's progress when it moves, until nothing is left.
func followBatch(ctx context.Context, shopSvc *shop.Service, id int64, stdout io.Writer) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		b, err := shopSvc.ChargeBatch(ctx, id)
		if err != nil {
			return fmt.Errorf("orders charge: %w", err)
		}
		line := fmt.Sprintf("batch #%d: %d charged, %d failed, %d skipped, %d left", b.ID, b.Charged, b.Failed, b.Skipped, b.Left())
		if line != last {
			fmt.Fprintln(stdout, line)
			last = line
		}
		if b.Left() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("orders charge: stopped following batch #%d (its jobs carry on): %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/postgres/postgrestest"
)

// TestOrdersChargeCommand is `storefront orders charge` for operators: bad
// usage and nothing to charge are refused, the count and total are named
// and confirmed, and the batch starts once, in the operator's name.
func TestOrdersChargeCommand(t *testing.T) {
	apiBase := emulatorWithSavedCard(t)
	db, dbURL := pg.NewDBWithURL(t)
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": apiBase}[k]
	}
	command := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, env, strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}
	if _, err := command("", "sync", "--since", "1h"); err != nil { // the saved card, mirrored
		t.Fatal(err)
	}
	state := func() string {
		var s string
		if err := db.Pool().QueryRow(context.Background(), `SELECT concat_ws(' ',
			(SELECT count(*) FROM charge_batches), (SELECT count(*) FROM river_job WHERE kind = 'charge_order'),
			(SELECT string_agg(actor || ' ' || action, ',') FROM audit_log WHERE action = 'order.charge_batch'))`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := command("", "orders", "charge", "--status", "placed", "--yes"); err == nil || !strings.Contains(err.Error(), "There are no placed orders to charge") {
		t.Errorf("with nothing placed: %v", err)
	}

	var order int64
	if err := db.Pool().QueryRow(context.Background(), `
		WITH p AS (INSERT INTO products (name, unit_amount, currency) VALUES ('T-shirt', 1099, 'usd') RETURNING id),
		o AS (INSERT INTO orders (email, customer_id, status, currency, total, checkout_key, payment_method_id, placed_at)
		      SELECT c.email, c.id, 'placed', 'usd', 1099, 'cli-checkout-key-1', pm.id, now()
		      FROM payment_methods pm JOIN customers c ON c.id = pm.customer_id RETURNING id),
		l AS (INSERT INTO order_lines (order_id, position, product_id, name, unit_amount, quantity)
		      SELECT o.id, 0, p.id, 'T-shirt', 1099, 1 FROM o, p)
		SELECT id FROM o`).Scan(&order); err != nil {
		t.Fatal(err)
	}
	postgrestest.ClonePlacedOrder(t, db, order, 2)

	for _, args := range [][]string{{"orders"}, {"orders", "list"}, {"orders", "charge"}, {"orders", "charge", "--status", "paid", "--yes"}} {
		if _, err := command("", args...); err == nil || !strings.Contains(err.Error(), "usage: storefront orders charge --status placed") {
			t.Errorf("%v: %v, want the usage", args, err)
		}
	}
	out, err := command("no\n", "orders", "charge", "--status", "placed")
	if err == nil || !strings.Contains(err.Error(), "not confirmed") || !strings.Contains(out, "3 placed orders") || !strings.Contains(out, "$32.97 in all") {
		t.Errorf("answered no: %v\n%s", err, out)
	}
	if got := state(); got != "0 0" {
		t.Errorf("refusals changed something: %s", got)
	}

	out, err = command("yes\n", "orders", "charge", "--status", "placed")
	if err != nil || !strings.Contains(out, "batch #1: 3 orders, $32.97") {
		t.Fatalf("confirmed: %v\n%s", err, out)
	}
	// Again while the first batch's jobs are waiting: nothing more.
	if _, err := command("", "orders", "charge", "--status", "placed", "--yes"); err == nil || !strings.Contains(err.Error(), "being charged by an earlier batch already") {
		t.Errorf("a second batch of the same orders: %v", err)
	}
	if got, want := state(), "1 3 "+cliActor().Name+" order.charge_batch"; got != want {
		t.Errorf("after the batch: %q, want %q", got, want)
	}
}

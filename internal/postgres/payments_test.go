package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/postgres"
)

// seedAttempts writes n charge attempts on one card, created at, through
// the counting triggers, with every third refunded in part on Stripe.
func seedAttempts(t *testing.T, db *postgres.DB, prefix string, n int, at time.Time) {
	t.Helper()
	_, err := db.Pool().Exec(context.Background(), `
		INSERT INTO customers (email) VALUES ('fold@example.com') ON CONFLICT DO NOTHING;
		INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, stripe_created_at)
		SELECT 'pm_fold', id, 'card', 'visa', '4242', 12, 2034, now() FROM customers WHERE email = 'fold@example.com'
		ON CONFLICT DO NOTHING;
		INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, status, created_at, refunded_on_stripe)
		SELECT pm.customer_id, pm.id, 100 * i, (ARRAY['usd', 'eur'])[1 + i % 2], '`+prefix+`-fold-attempt-key-' || i,
		       (ARRAY['succeeded', 'declined', 'processing'])[1 + i % 3], '`+at.UTC().Format(time.RFC3339)+`'::timestamptz,
		       CASE WHEN i % 3 = 0 THEN 50 ELSE 0 END
		FROM generate_series(1, `+strconv.Itoa(n)+`) i, payment_methods pm WHERE pm.id = 'pm_fold'`)
	if err != nil {
		t.Fatal(err)
	}
}

// countersDiffer compares the counters, summed per day, status and
// currency, with a count of the attempts themselves.
func countersDiffer(t *testing.T, db *postgres.DB) string {
	t.Helper()
	var diff string
	err := db.Pool().QueryRow(context.Background(), `
		WITH counted AS (
			SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, currency, count(*) AS n, sum(amount) AS amount,
			       sum(greatest(refunded_on_stripe, refunded_here)) AS refunded,
			       count(*) FILTER (WHERE greatest(refunded_on_stripe, refunded_here) > 0) AS refunded_n
			FROM charge_attempts GROUP BY 1, 2, 3
		), kept AS (
			SELECT day, status, currency, sum(n), sum(amount), sum(refunded), sum(refunded_n)
			FROM payment_day_totals GROUP BY 1, 2, 3 HAVING sum(n) <> 0
		)
		SELECT coalesce(string_agg(x::text, '; '), '') FROM ((TABLE counted EXCEPT TABLE kept) UNION ALL (TABLE kept EXCEPT TABLE counted)) x`).Scan(&diff)
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

// counterRows counts the counter rows of the days before or from day.
func counterRows(t *testing.T, db *postgres.DB, day time.Time) (before, from int) {
	t.Helper()
	err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE day < $1::date), count(*) FILTER (WHERE day >= $1::date)
		FROM payment_day_totals`, day.UTC().Format(time.DateOnly)).Scan(&before, &from)
	if err != nil {
		t.Fatal(err)
	}
	return before, from
}

// TestFoldPaymentTotalsKeepsEverySum: charges spread their counts over
// shards of their key, so that concurrent charges do not queue on one row;
// the fold adds past days' shards into one row per key, today's stay, the
// sums never change, and a change of status after the fold still counts.
func TestFoldPaymentTotalsKeepsEverySum(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	seedAttempts(t, db, "past", 96, now.AddDate(0, 0, -3))
	seedAttempts(t, db, "today", 96, now.Add(-time.Hour))
	if diff := countersDiffer(t, db); diff != "" {
		t.Fatalf("before the fold, the counters differ from the attempts: %s", diff)
	}
	// Two currencies and three statuses a day: 6 keys, each spread over
	// the shards its attempts' ids fall in.
	var spread int
	if err := db.Pool().QueryRow(ctx, `SELECT count(DISTINCT (created_at::date, status, currency, id % 16)) FROM charge_attempts`).Scan(&spread); err != nil {
		t.Fatal(err)
	}
	past, today := counterRows(t, db, now)
	if past+today != spread || past <= 6 || today <= 6 {
		t.Fatalf("counter rows: %d past, %d today; want each key's charges spread over the rows of their shards (%d)", past, today, spread)
	}

	folded, err := db.FoldPaymentTotals(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if past, after := counterRows(t, db, now); folded != 6 || past != 6 || after != today {
		t.Errorf("the fold folded %d keys, leaving %d past rows and %d today; want 6, one row per past key, today's untouched", folded, past, today)
	}
	if diff := countersDiffer(t, db); diff != "" {
		t.Errorf("the fold changed the sums: %s", diff)
	}

	// A past attempt changes after the fold: its shard row comes back,
	// negative alone, and the sums stay right; the next fold folds it.
	if _, err := db.Pool().Exec(ctx, `UPDATE charge_attempts SET status = 'recovered', recovered_at = now() WHERE idempotency_key LIKE 'past-%' AND status = 'declined'`); err != nil {
		t.Fatal(err)
	}
	if diff := countersDiffer(t, db); diff != "" {
		t.Errorf("a change after the fold: the counters differ from the attempts: %s", diff)
	}
	if _, err := db.FoldPaymentTotals(ctx, now); err != nil {
		t.Fatal(err)
	}
	if past, _ := counterRows(t, db, now); past != 6+2 {
		t.Errorf("%d past rows after the second fold; want one per key, the two new recovered keys among them", past)
	}
	if diff := countersDiffer(t, db); diff != "" {
		t.Errorf("after the second fold: %s", diff)
	}
}

// TestFoldPaymentTotalsYieldsToACharge: a fold that meets a counter row a
// charge holds gives up at once and changes nothing, rather than wait or
// deadlock with the charge; the next fold does the work.
func TestFoldPaymentTotalsYieldsToACharge(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	seedAttempts(t, db, "past", 48, now.AddDate(0, 0, -1))
	charge, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer charge.Rollback(ctx)
	if _, err := charge.Exec(ctx, `UPDATE charge_attempts SET status = 'failed' WHERE idempotency_key = 'past-fold-attempt-key-2'`); err != nil {
		t.Fatal(err)
	}
	before, _ := counterRows(t, db, now)
	if _, err := db.FoldPaymentTotals(ctx, now); err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("a fold while a charge holds a counter row: %v, want it to give up on the lock", err)
	}
	if after, _ := counterRows(t, db, now); after != before {
		t.Errorf("the fold that gave up changed the counters: %d rows, then %d", before, after)
	}
	if err := charge.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if folded, err := db.FoldPaymentTotals(ctx, now); err != nil || folded == 0 {
		t.Errorf("the next fold: %d keys, %v", folded, err)
	}
	if diff := countersDiffer(t, db); diff != "" {
		t.Errorf("the counters differ from the attempts: %s", diff)
	}
}

package web_test

import (
	"context"
	"testing"
	"time"
)

// seedPayments fills the store with n charge attempts over a year, straight
// into the database, on the cards seedPaymentMethods made: every status,
// three currencies, one in ten refunded in part.
func seedPayments(b *testing.B, h *harness, n int) {
	b.Helper()
	seed(b, h, n, `
		INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, status, failure_code,
		                             payment_intent_id, created_at, recovered_at)
		SELECT pm.customer_id, pm.id, 500 + i % 10000, (ARRAY['usd', 'eur', 'jpy'])[1 + i % 3], 'bench-attempt-key-' || i,
		       (ARRAY['succeeded', 'succeeded', 'succeeded', 'declined', 'recovered', 'failed'])[1 + i % 6],
		       CASE WHEN i % 6 IN (3, 5) THEN 'card_declined' END, 'pi_bench' || i,
		       now() - (i * 5 || ' minutes')::interval, CASE WHEN i % 6 = 4 THEN now() END
		FROM generate_series(1, $1::int) i
		JOIN payment_methods pm ON pm.id = 'pm_seed' || (1 + i % 1000);

		INSERT INTO charge_refunds (charge_attempt_id, payment_intent_id, amount, currency, status, refund_id)
		SELECT id, payment_intent_id, 100, currency, 'succeeded', 're_bench' || id
		FROM charge_attempts WHERE status = 'succeeded' AND id % 10 = 0;`)
	// The hourly fold has compacted the counters of every day but today.
	if _, err := h.db.FoldPaymentTotals(context.Background(), time.Now()); err != nil {
		b.Fatal(err)
	}
	seed(b, h, n, `ANALYZE`)
}

// seedEventLedger fills the ledger with n events: one in a hundred failed,
// one in a thousand pending, of a dozen types.
func seedEventLedger(b *testing.B, h *harness, n int) {
	b.Helper()
	seed(b, h, n, `
		INSERT INTO stripe_events (id, type, object_id, created_at, received_at, applied_at, attempts, last_error, payload)
		SELECT 'evt_bench' || i, 'type_' || (i % 12) || '.event', 'pi_bench' || i, now() - (i || ' seconds')::interval,
		       now() - (i || ' seconds')::interval,
		       CASE WHEN i % 100 <> 0 AND i % 1000 <> 1 THEN now() END, 1, CASE WHEN i % 100 = 0 THEN 'failed' END, '{}'
		FROM generate_series(1, $1::int) i;
		ANALYZE;`)
}

// BenchmarkAdminPayments measures the payments list, with the totals of its
// filtered set, at 100,000 charge attempts: the first page, a page 60,000
// rows deep, a status, a month, and both.
func BenchmarkAdminPayments(b *testing.B) {
	h := newBenchHarness(b)
	seedPaymentMethods(b, h, 2000)
	seedPayments(b, h, 100_000)
	var deep string
	if err := h.db.Pool().QueryRow(context.Background(), `
		SELECT 'before=' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '&before_id=' || id
		FROM charge_attempts ORDER BY created_at DESC, id DESC OFFSET 60000 LIMIT 1`).Scan(&deep); err != nil {
		b.Fatal(err)
	}
	benchPages(b, h, "/admin/payments", []benchPage{
		{"first-page", ""},
		{"deep-page", "?" + deep},
		{"status-declined", "?status=declined"},
		{"one-month", "?from=" + monthAgo(2) + "&to=" + monthAgo(1)},
		{"status-and-month", "?status=recovered&from=" + monthAgo(2) + "&to=" + monthAgo(1)},
	})
}

// BenchmarkAdminEvents measures the events list at 100,000 events: the
// first page (failed first), a page deep in the applied ones, a type, a state.
func BenchmarkAdminEvents(b *testing.B) {
	h := newBenchHarness(b)
	seedEventLedger(b, h, 100_000)
	var deep string
	if err := h.db.Pool().QueryRow(context.Background(), `
		SELECT 'before_state=applied&before=' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '&before_id=' || id
		FROM stripe_events WHERE applied_at IS NOT NULL ORDER BY received_at DESC, id DESC OFFSET 60000 LIMIT 1`).Scan(&deep); err != nil {
		b.Fatal(err)
	}
	benchPages(b, h, "/admin/events", []benchPage{
		{"first-page", ""},
		{"deep-page", "?" + deep},
		{"one-type", "?type=type_7.event"},
		{"failed", "?state=failed"},
		{"type-and-state", "?type=type_4.event&state=failed"},
	})
}

// monthAgo is the day n months before today, as the filter writes it.
func monthAgo(n int) string { return time.Now().UTC().AddDate(0, -n, 0).Format("2006-01-02") }

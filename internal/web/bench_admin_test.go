package web_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// seedPaymentMethods fills the store with n saved cards over n/2 customers,
// straight into the database: a year of saves, every brand and expiry, one
// card in fifty detached and one in fifty with a declined charge.
func seedPaymentMethods(b *testing.B, h *harness, n int) {
	b.Helper()
	seed(b, h, n, `
		INSERT INTO customers (email, stripe_customer_id)
		SELECT 'user' || i || '@example.com', 'cus_seed' || i FROM generate_series(1, $1::int / 2) i;

		INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, fingerprint, status,
		                             stripe_created_at, saved_at, synced_at)
		SELECT 'pm_seed' || i, c.id, 'card', (ARRAY['visa', 'mastercard', 'amex'])[1 + i % 3],
		       lpad((i * 7919 % 10000)::text, 4, '0'), 1 + i % 12, 2026 + (i / 12) % 6, 'fp' || i,
		       CASE WHEN i % 50 = 0 THEN 'detached' ELSE 'active' END,
		       now() - (i || ' minutes')::interval, now() - (i * 5 || ' minutes')::interval, now()
		FROM generate_series(1, $1::int) i
		JOIN customers c ON c.stripe_customer_id = 'cus_seed' || (1 + (i - 1) / 2);

		INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, status, failure_code)
		SELECT pm.customer_id, pm.id, 1099, 'usd', 'seed-key-' || pm.id, 'declined', 'card_declined'
		FROM payment_methods pm WHERE pm.id LIKE 'pm_seed%' AND substr(pm.id, 8)::int % 50 = 25;
		ANALYZE;`)
}

// seed runs statements that fill the store for a benchmark, with n for $1:
// in one round trip, by the simple protocol.
func seed(b *testing.B, h *harness, n int, sql string) {
	b.Helper()
	if _, err := h.db.Pool().Exec(context.Background(), strings.ReplaceAll(sql, "$1", strconv.Itoa(n)), pgx.QueryExecModeSimpleProtocol); err != nil {
		b.Fatalf("seed: %v", err)
	}
}

// BenchmarkAdminList measures the admin list page, over real HTTP and with
// its totals, at 100,000 saved cards: the first page, a page 60,000 rows
// deep (keyset cursor), searches and filters. Goal: p99 under 20 ms each.
func BenchmarkAdminList(b *testing.B) {
	h := newBenchHarness(b)
	seedPaymentMethods(b, h, 100_000)
	var deepCursor string
	if err := h.db.Pool().QueryRow(context.Background(), `
		SELECT 'before=' || to_char(saved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '&before_id=' || id
		FROM payment_methods ORDER BY saved_at DESC, id DESC OFFSET 60000 LIMIT 1`).Scan(&deepCursor); err != nil {
		b.Fatal(err)
	}
	pages := []benchPage{
		{"first-page", ""},
		{"deep-page", "?" + deepCursor},
		{"search-last4", "?q=4242"},
		{"search-email", "?q=user4242"},
		{"filter-expiring", "?filter=expiring"},
		{"filter-failing", "?filter=failing"},
	}
	benchPages(b, h, "/admin", pages)
}

type benchPage struct{ name, query string }

// adminWarmup is how many times each page is asked before it is timed, so
// that its p99 is the page's and not its first connection's or plan's.
const adminWarmup = 50

// benchPages measures each page of an admin list over real HTTP, as staff
// with HTTP Basic auth, and reports its p50 and p99.
func benchPages(b *testing.B, h *harness, path string, pages []benchPage) {
	client := &http.Client{}
	get := func(b *testing.B, url string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth("admin", adminPassword)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) //nolint:errcheck
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for range adminWarmup {
				get(b, h.store.URL+path+p.query)
			}
			latencies := make([]float64, 0, b.N)
			for b.Loop() {
				start := time.Now()
				get(b, h.store.URL+path+p.query)
				latencies = append(latencies, float64(time.Since(start).Microseconds())/1000)
			}
			b.ReportMetric(percentile(latencies, 50), "p50-ms")
			b.ReportMetric(percentile(latencies, 99), "p99-ms")
		})
	}
}

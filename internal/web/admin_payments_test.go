package web_test

import (
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

var (
	attemptRowPattern = regexp.MustCompile(`<tr data-attempt="(\d+)">`)
	olderPattern      = regexp.MustCompile(`<p class="pager"><a href="([^"]+)">Older</a>`)
)

// listPages walks an admin list from path through its Older links and
// returns the first submatch of rows on every page, in order, and the
// first page.
func (h *harness) listPages(path string, rows *regexp.Regexp) ([][]string, response) {
	h.t.Helper()
	var (
		found [][]string
		first response
	)
	for path != "" {
		page := h.admin(path, "admin", adminPassword)
		if page.status != http.StatusOK {
			h.t.Fatalf("%s: %d %s", path, page.status, page.body)
		}
		if first.status == 0 {
			first = page
		}
		for _, m := range rows.FindAllStringSubmatch(page.body, -1) {
			found = append(found, m[1:])
		}
		path = ""
		if m := olderPattern.FindStringSubmatch(page.body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	return found, first
}

// paymentPages walks the payments list from query and returns the attempt
// ids shown, in order, and the first page.
func (h *harness) paymentPages(query string) ([]int64, response) {
	h.t.Helper()
	rows, first := h.listPages("/admin/payments"+query, attemptRowPattern)
	ids := make([]int64, len(rows))
	for i, m := range rows {
		ids[i], _ = strconv.ParseInt(m[0], 10, 64)
	}
	return ids, first
}

// paymentsCSV downloads the export of a filter and returns its records, header first.
func (h *harness) paymentsCSV(query string) [][]string {
	h.t.Helper()
	res := h.admin("/admin/payments.csv"+query, "admin", adminPassword)
	if res.status != http.StatusOK {
		h.t.Fatalf("export %s: %d %s", query, res.status, res.body)
	}
	records, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		h.t.Fatalf("export %s is not CSV: %v", query, err)
	}
	return records
}

// seedAttempts writes n charge attempts of one customer's card straight into
// the database, one an hour back from start, cycling through the statuses,
// each described with a formula.
func (h *harness) seedAttempts(pm billing.PaymentMethod, n int, start time.Time) {
	h.t.Helper()
	_, err := h.db.Pool().Exec(context.Background(), `
		INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, status, failure_code,
		                             payment_intent_id, description, created_at, recovered_at)
		SELECT $1, $2, 100 + i, 'usd', 'seed-attempt-key-' || i,
		       (ARRAY['succeeded', 'declined', 'failed', 'recovered'])[1 + i % 4],
		       CASE WHEN i % 4 IN (1, 2) THEN 'card_declined' END, 'pi_seed' || i, '=HYPERLINK("http://x.test/' || i || '")',
		       $3::timestamptz - (i || ' hours')::interval, CASE WHEN i % 4 = 3 THEN now() END
		FROM generate_series(1, $4::int) i`, pm.CustomerID, pm.ID, start, n)
	if err != nil {
		h.t.Fatal(err)
	}
}

// TestPaymentsListAndItsExport: the payments list shows every charge
// attempt across customers (charges made here, an order's, a recovered
// one), filtered by status and days, with the totals of the filtered set;
// the CSV export of each filter holds exactly the rows of the list's pages,
// in order, with amounts in decimal, the card, the email and Stripe's ids in
// columns of their own, and formulas made inert.
func TestPaymentsListAndItsExport(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	charged := h.chargeCard(h.recordedCard("=1+2@example.com", "4242424242424242").ID, "10.99", "usd")
	yen := h.chargeCard(h.recordedCard("yen@example.com", "5555555555554444").ID, "1250", "jpy")
	declined, link := h.declinedAttempt("recover@example.com")
	session := h.openLink(link)
	h.completeWith(session, "4242424242424242", "recover@example.com")
	if res := h.get("/pay/complete?session_id=" + session); res.status != http.StatusOK {
		t.Fatalf("pay: %d", res.status)
	}
	stillDeclined, _ := h.declinedAttempt("unpaid@example.com")
	order := h.placeOrder(h.catalog()["T-shirt"], "2", "order@example.com", "4242424242424242")
	if _, done := h.orderAction(order, "charge", nil); done.status != http.StatusSeeOther {
		t.Fatalf("charge the order: %d %s", done.status, done.body)
	}
	if _, done := h.orderAction(order, "refund", url.Values{"amount": {"5.00"}, "key": {billing.NewIdempotencyKey()}}); done.status != http.StatusSeeOther {
		t.Fatalf("refund: %d %s", done.status, done.body)
	}
	orderAttempts, err := h.db.OrderAttempts(ctx, order.ID)
	if err != nil || len(orderAttempts) != 1 {
		t.Fatalf("order attempts %v, %v", orderAttempts, err)
	}
	// Enough older rows for two pages, over three days.
	seedCard := h.recordedCard("seed@example.com", "4242424242424242")
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	h.seedAttempts(seedCard, 70, start)

	all, _ := h.paymentPages("")
	if len(all) != 75 || all[0] != orderAttempts[0] {
		t.Fatalf("the list shows %d attempts starting with %v; want 75, the order's first", len(all), all[:1])
	}
	for _, id := range []int64{charged.ID, yen.ID, declined.ID, stillDeclined.ID} {
		if !slices.Contains(all, id) {
			t.Errorf("attempt %d is not listed", id)
		}
	}

	for name, query := range map[string]string{
		"everything":      "",
		"declined":        "?status=declined",
		"recovered":       "?status=recovered",
		"two days":        "?from=2026-03-08&to=2026-03-09",
		"status and days": "?status=succeeded&from=2026-03-08&to=2026-03-10",
		"nothing":         "?status=processing",
	} {
		t.Run(name, func(t *testing.T) {
			ids, page := h.paymentPages(query)
			records := h.paymentsCSV(query)
			if len(records) == 0 || strings.Join(records[0], ",") != "id,created_at,customer_id,customer_email,order,description,amount,currency,status,refunded,card_brand,card_last4,failure_code,decline_code,failure_message,recovered_at,payment_method_id,payment_intent_id,recovered_payment_intent_id,stripe_customer_id" {
				t.Fatalf("header %v", records[:min(1, len(records))])
			}
			var csvIDs []int64
			for _, rec := range records[1:] {
				id, _ := strconv.ParseInt(rec[0], 10, 64)
				csvIDs = append(csvIDs, id)
				a, err := h.svc.ChargeAttempt(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				want := map[int]string{3: a.CustomerEmail, 6: a.Money.Decimal(), 7: strings.ToUpper(a.Money.Currency), 8: a.Status,
					16: a.PaymentMethodID, 17: a.PaymentIntentID, 19: a.StripeCustomerID}
				if strings.HasPrefix(a.CustomerEmail, "=") {
					want[3] = "'" + a.CustomerEmail
				}
				for col, v := range want {
					if rec[col] != v {
						t.Errorf("attempt %d: %s is %q, want %q", id, records[0][col], rec[col], v)
					}
				}
				if !strings.Contains(page.body, `data-attempt="`+rec[0]+`"`) && len(csvIDs) <= billing.PaymentPageSize {
					t.Errorf("attempt %d is on the first page of the CSV but not of the list", id)
				}
			}
			if !slices.Equal(csvIDs, ids) {
				t.Errorf("the CSV has %d rows %v;\nthe list's pages %d rows %v", len(csvIDs), csvIDs, len(ids), ids)
			}
		})
	}

	// The rows' content, in the CSV and on the page.
	rows := map[string][]string{}
	for _, rec := range h.paymentsCSV("") {
		rows[rec[0]] = rec
	}
	check := func(id int64, col int, want string) {
		t.Helper()
		if got := rows[strconv.FormatInt(id, 10)][col]; got != want {
			t.Errorf("attempt %d: %s %q, want %q", id, rows["id"][col], got, want)
		}
	}
	check(charged.ID, 10, "Visa")
	check(charged.ID, 11, "4242")
	check(yen.ID, 6, "1250")
	check(yen.ID, 7, "JPY")
	check(yen.ID, 10, "Mastercard")
	check(orderAttempts[0], 4, strconv.FormatInt(order.ID, 10))
	check(orderAttempts[0], 9, "5.00")
	check(declined.ID, 8, "recovered")
	check(stillDeclined.ID, 12, "card_declined")
	if rec := rows[strconv.FormatInt(declined.ID, 10)]; rec[18] == "" || !strings.HasPrefix(rec[18], "pi_") || rec[15] == "" {
		t.Errorf("the recovered attempt lacks its recovery payment: %v", rec)
	}
	for id, rec := range rows {
		if strings.HasPrefix(rec[5], "=") || strings.HasPrefix(rec[3], "=") {
			t.Errorf("attempt %s: a cell starts with a formula: %v", id, rec)
		}
	}
	first, _ := h.paymentPages("")
	_, page := h.paymentPages("?status=succeeded")
	for _, want := range []string{"Visa ···· 4242", charged.Money.Display(), yen.Money.Display()} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the succeeded page lacks %q", want)
		}
	}
	if strings.Contains(page.body, `data-attempt="`+strconv.FormatInt(declined.ID, 10)+`"`) || len(first) == 0 {
		t.Errorf("a recovered attempt is listed as succeeded")
	}

	// The totals are the filtered set's, whichever page is shown.
	var want struct{ charged, failed, recovered, refunded int64 }
	var counts struct{ charged, failed, recovered int }
	for _, rec := range h.paymentsCSV("?from=2026-03-01&to=2026-12-31")[1:] {
		if rec[7] != "USD" {
			continue
		}
		amount, _ := billing.ParseAmount(rec[6], "usd")
		refunded, _ := billing.ParseAmount(rec[9], "usd")
		want.refunded += refunded.Amount
		switch rec[8] {
		case "succeeded":
			want.charged += amount.Amount
			counts.charged++
		case "recovered":
			want.recovered += amount.Amount
			counts.recovered++
		case "declined", "authentication_required", "failed":
			want.failed += amount.Amount
			counts.failed++
		}
	}
	h.recountPayments()
	totals := h.admin("/admin/payments?from=2026-03-01&to=2026-12-31", "admin", adminPassword).body
	for class, w := range map[string]string{
		"total-charged":   billing.Money{Amount: want.charged, Currency: "usd"}.Display() + ` <span class="muted">(` + strconv.Itoa(counts.charged) + ")",
		"total-failed":    billing.Money{Amount: want.failed, Currency: "usd"}.Display() + ` <span class="muted">(` + strconv.Itoa(counts.failed) + ")",
		"total-recovered": billing.Money{Amount: want.recovered, Currency: "usd"}.Display() + ` <span class="muted">(` + strconv.Itoa(counts.recovered) + ")",
		"total-refunded":  billing.Money{Amount: want.refunded, Currency: "usd"}.Display(),
	} {
		if !strings.Contains(totals, `class="`+class+`">`+w) {
			t.Errorf("%s: want %q in the totals", class, w)
		}
	}
}

// recountPayments compares the counters the payments totals read with a
// count of the attempts themselves, day by day.
func (h *harness) recountPayments() {
	h.t.Helper()
	var diff string
	err := h.db.Pool().QueryRow(context.Background(), `
		WITH counted AS (
			SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, currency, count(*) AS n, sum(amount) AS amount,
			       sum(greatest(refunded_on_stripe, refunded_here)) AS refunded,
			       count(*) FILTER (WHERE greatest(refunded_on_stripe, refunded_here) > 0) AS refunded_n,
			       sum((SELECT coalesce(sum(r.amount), 0) FROM charge_refunds r WHERE r.charge_attempt_id = ca.id AND r.status = 'succeeded')
			           - refunded_here) AS drift
			FROM charge_attempts ca GROUP BY 1, 2, 3
		), kept AS (SELECT day, status, currency, sum(n), sum(amount), sum(refunded), sum(refunded_n), 0 AS drift
		            FROM payment_day_totals GROUP BY 1, 2, 3 HAVING sum(n) > 0)
		SELECT coalesce(string_agg(x::text, '; '), '') FROM ((TABLE counted EXCEPT TABLE kept) UNION ALL (TABLE kept EXCEPT TABLE counted)) x`).Scan(&diff)
	if err != nil {
		h.t.Fatal(err)
	}
	if diff != "" {
		h.t.Errorf("the payment counters differ from a count of the attempts: %s", diff)
	}
}

// TestPaymentsFilterRefusesBadInput: a malformed filter or cursor is a 400
// page, for the list and for the export alike (never a CSV of it).
func TestPaymentsFilterRefusesBadInput(t *testing.T) {
	h := newHarness(t)
	for _, query := range []string{"?status=paid", "?from=2026-13-01", "?to=yesterday", "?from=2026-03-10&to=2026-03-09",
		"?before=2026-01-01T00:00:00Z&before_id=x", "?before_id=12"} {
		for _, path := range []string{"/admin/payments", "/admin/payments.csv"} {
			res := h.admin(path+query, "admin", adminPassword)
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, "<h1>") {
				t.Errorf("%s%s: %d, want a 400 page", path, query, res.status)
			}
		}
	}
	if res := h.get("/admin/payments.csv"); res.status != http.StatusUnauthorized {
		t.Errorf("the export without credentials: %d", res.status)
	}
}

package web

import (
	"cmp"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/storefront/storefront/internal/billing"
)

type paymentsPage struct {
	Rows     []paymentRow
	Totals   []billing.PaymentTotals
	Status   string
	From, To string
	Statuses []string
	Filtered bool
	// Processing: some charge's outcome is not known yet (a column of the totals).
	Processing bool
	// Next is the next page's URL; CSV the export of the whole filtered set.
	Next, CSV string
}

// paymentRow is a charge attempt as the payments list shows it, formatted
// once in Go (see adminRow).
type paymentRow struct {
	ID            int64
	CreatedAt     time.Time
	CustomerID    int64
	CustomerEmail string
	Card          string
	Amount        string
	Status        string
	Refunded      string
	OrderID       int64
	Description   string
	// Reason says why a charge failed, in words; Codes, Stripe's codes.
	Reason, Codes   string
	PaymentIntentID string
}

func newPaymentRow(p billing.Payment) paymentRow {
	row := paymentRow{
		ID:              p.ID,
		CreatedAt:       p.CreatedAt,
		CustomerID:      p.CustomerID,
		CustomerEmail:   customerName(p.CustomerEmail),
		Card:            attemptCard(p.ChargeAttempt),
		Amount:          p.Money.Display(),
		Status:          p.Status,
		OrderID:         p.OrderID,
		Description:     p.Description,
		Reason:          p.FailureReason(),
		Codes:           billing.DeclineCodes(p.FailureCode, p.DeclineCode),
		PaymentIntentID: cmp.Or(p.PaidPaymentIntentID(), p.PaymentIntentID),
	}
	if p.Refunded > 0 {
		row.Refunded = billing.Money{Amount: p.Refunded, Currency: p.Money.Currency}.Display()
	}
	return row
}

// paymentQuery reads the payments list's filter and cursor from the URL.
func paymentQuery(r *http.Request) (billing.PaymentQuery, error) {
	v := r.URL.Query()
	return billing.ParsePaymentQuery(v.Get("status"), v.Get("from"), v.Get("to"), v.Get("before"), v.Get("before_id"))
}

// paymentsURL is the payments list (or, with path, its export) for a filter.
func paymentsURL(path string, q billing.PaymentQuery, pairs ...string) string {
	return pageURL(path, append([]string{"status", q.Status, "from", billing.Day(q.From, false), "to", billing.Day(q.Until, true)}, pairs...)...)
}

// adminPayments lists every charge attempt across customers, newest first,
// one keyset page at a time, with a status and date filter and the totals of
// the whole filtered set.
func (s *Server) adminPayments(w http.ResponseWriter, r *http.Request) error {
	q, err := paymentQuery(r)
	if err != nil {
		return err
	}
	// Independent reads, asked at once (as the admin list does).
	var (
		list   []billing.Payment
		totals []billing.PaymentTotals
	)
	g, ctx := errgroup.WithContext(r.Context())
	g.Go(func() (err error) { list, err = s.svc.Payments(ctx, q); return err })
	g.Go(func() (err error) { totals, err = s.svc.PaymentTotals(ctx, q); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	p := paymentsPage{
		Rows: make([]paymentRow, len(list)), Totals: totals, Statuses: billing.PaymentStatuses, Filtered: q.Filtered(),
		Status: q.Status, From: billing.Day(q.From, false), To: billing.Day(q.Until, true),
		CSV: paymentsURL("/admin/payments.csv", q),
	}
	for i, pay := range list {
		p.Rows[i] = newPaymentRow(pay)
	}
	for _, t := range totals {
		p.Processing = p.Processing || t.Processing.Count > 0
	}
	if len(list) == q.Limit {
		before, beforeID := billing.NextPaymentPage(list[len(list)-1])
		p.Next = paymentsURL("/admin/payments", q, "before", before, "before_id", beforeID)
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_payments", p)
}

// cardBrand is the brand of the card an attempt charged, as people name it;
// "" for a card no longer on file.
func cardBrand(a billing.ChargeAttempt) string {
	if a.CardLast4 == "" {
		return ""
	}
	return brandName(a.CardBrand, a.CardType)
}

// paymentCSVHeader names the export's columns.
var paymentCSVHeader = []string{"id", "created_at", "customer_id", "customer_email", "order", "description",
	"amount", "currency", "status", "refunded", "card_brand", "card_last4", "failure_code", "decline_code", "failure_message",
	"recovered_at", "payment_method_id", "payment_intent_id", "recovered_payment_intent_id", "stripe_customer_id"}

func paymentCSVRecord(p billing.Payment) []string {
	var order, recoveredAt string
	if p.OrderID != 0 {
		order = strconv.FormatInt(p.OrderID, 10)
	}
	if !p.RecoveredAt.IsZero() {
		recoveredAt = p.RecoveredAt.UTC().Format(time.RFC3339)
	}
	record := []string{strconv.FormatInt(p.ID, 10), p.CreatedAt.UTC().Format(time.RFC3339), strconv.FormatInt(p.CustomerID, 10),
		p.CustomerEmail, order, p.Description,
		p.Money.Decimal(), strings.ToUpper(p.Money.Currency), p.Status,
		billing.Money{Amount: p.Refunded, Currency: p.Money.Currency}.Decimal(),
		cardBrand(p.ChargeAttempt), p.CardLast4, p.FailureCode, p.DeclineCode, p.FailureMessage,
		recoveredAt, p.PaymentMethodID, p.PaymentIntentID, p.RecoveredPaymentIntentID, p.StripeCustomerID}
	for i, cell := range record {
		record[i] = inertCell(cell)
	}
	return record
}

// inertCell keeps a spreadsheet from reading a cell as a formula: text that
// starts with = + - @ or a tab or carriage return (an email or description
// someone typed, such as "=HYPERLINK(...)") gets a leading apostrophe, as
// OWASP's advice on CSV injection has it. Our own cells (ids, amounts,
// dates) never start so.
func inertCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvFlushEvery is how many rows the export writes between flushes to the client.
const csvFlushEvery = 500

// adminPaymentsCSV streams the whole filtered set of the payments list as
// CSV, in the list's order, a batch of rows at a time.
func (s *Server) adminPaymentsCSV(w http.ResponseWriter, r *http.Request) error {
	q, err := paymentQuery(r)
	if err != nil {
		return err
	}
	out := &lazyCSV{w: w, filename: "payments-" + time.Now().UTC().Format("20060102-150405") + ".csv"}
	cw := csv.NewWriter(out)
	if err := cw.Write(paymentCSVHeader); err != nil {
		return err
	}
	rows := 0
	err = s.svc.EachPayment(r.Context(), q, func(p billing.Payment) error {
		if err := cw.Write(paymentCSVRecord(p)); err != nil {
			return err
		}
		if rows++; rows%csvFlushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return http.NewResponseController(w).Flush()
		}
		return nil
	})
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil && !out.started {
		return err // nothing sent yet: an error page, not half a file
	}
	if err != nil {
		// Part of the file is out: abort the response, so that the download
		// fails visibly instead of ending early as if complete.
		s.log.Error("payments export failed midway", "err", err, "rows", rows, logAttrs(r))
		panic(http.ErrAbortHandler)
	}
	return nil
}

// lazyCSV sets the export's headers at its first write, so that an error
// before any row is out is still answered with an error page.
type lazyCSV struct {
	w        http.ResponseWriter
	filename string
	started  bool
}

func (l *lazyCSV) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		h := l.w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+l.filename+`"`)
		h.Set("Cache-Control", "no-store")
	}
	return l.w.Write(p)
}

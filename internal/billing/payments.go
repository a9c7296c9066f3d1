package billing

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// PaymentPageSize is how many charge attempts one page of the payments list shows.
const PaymentPageSize = 50

// paymentExportBatch is how many rows the CSV export reads at a time: each
// batch is one keyset query, so a long export holds no connection between them.
const paymentExportBatch = 500

// PaymentQuery selects charge attempts across customers, for the admin's
// payments list and its CSV export: a status, a range of days (UTC), and the
// keyset cursor of the next page (the last row shown: when it was made, and its id).
type PaymentQuery struct {
	Status string
	// From is the first instant included; zero: from the first charge.
	From time.Time
	// Until is the first instant excluded (the day after the last day asked
	// for); zero: up to now.
	Until    time.Time
	Before   time.Time
	BeforeID int64
	Limit    int
}

// Filtered tells whether the query narrows the list at all.
func (q PaymentQuery) Filtered() bool {
	return q.Status != "" || !q.From.IsZero() || !q.Until.IsZero()
}

// PaymentStatuses are the statuses the payments list filters by, in the order it offers them.
var PaymentStatuses = []string{ChargeSucceeded, ChargeRecovered, ChargeDeclined, ChargeAuthenticationRequired, ChargeFailed, ChargeProcessing}

// dayLayout is how the payments filter writes a day.
const dayLayout = "2006-01-02"

// ParsePaymentQuery validates the payments list's filter and cursor: a
// status word, the first and last days (inclusive, YYYY-MM-DD, UTC), and
// the next-page cursor.
func ParsePaymentQuery(status, from, to, before, beforeID string) (PaymentQuery, error) {
	q := PaymentQuery{Status: status, Limit: PaymentPageSize}
	if status != "" && !validPaymentStatus(status) {
		return q, Invalid("status", "Unknown status %q.", status)
	}
	var err error
	if q.From, err = parseDay("from", from); err != nil {
		return q, err
	}
	last, err := parseDay("to", to)
	if err != nil {
		return q, err
	}
	if !last.IsZero() {
		q.Until = last.AddDate(0, 0, 1)
	}
	if !q.From.IsZero() && !q.Until.IsZero() && !q.From.Before(q.Until) {
		return q, Invalid("to", "The last day comes before the first; swap them.")
	}
	q.Before, q.BeforeID, err = parseIDCursor(before, beforeID)
	return q, err
}

func validPaymentStatus(s string) bool { return slices.Contains(PaymentStatuses, s) }

// parseDay reads a day of the filter; empty is no bound.
func parseDay(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(dayLayout, s)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, Invalid(field, "Write the day as YYYY-MM-DD, such as 2026-01-31.")
	}
	return t, nil
}

// Day writes a filter's bound back as the form shows it: From as its day,
// Until as the last day it includes.
func Day(t time.Time, until bool) string {
	if t.IsZero() {
		return ""
	}
	if until {
		t = t.AddDate(0, 0, -1)
	}
	return t.UTC().Format(dayLayout)
}

// Payment is a charge attempt as the payments list shows it: with, for an
// order's charge, the order.
type Payment struct {
	ChargeAttempt
	// OrderID is the order the charge was for; 0 for a charge of a bare amount.
	OrderID int64
}

// PaymentTally counts charge attempts and sums their money.
type PaymentTally struct {
	Count int
	Money Money
}

// PaymentTotals sum the charge attempts of a filtered set in one currency:
// charged (succeeded off-session), failed (declined, needing
// authentication, or refused by Stripe, and not paid since), recovered
// (failed, then paid through the recovery link or a retry), refunded (what
// was refunded of the paid ones), and processing.
type PaymentTotals struct {
	Currency   string
	Charged    PaymentTally
	Failed     PaymentTally
	Recovered  PaymentTally
	Refunded   PaymentTally
	Processing PaymentTally
}

// NewPaymentTotals returns zero totals in currency, each sum in it.
func NewPaymentTotals(currency string) PaymentTotals {
	zero := PaymentTally{Money: Money{Currency: currency}}
	return PaymentTotals{Currency: currency, Charged: zero, Failed: zero, Recovered: zero, Refunded: zero, Processing: zero}
}

// Add counts charge attempts of one status (count of them, amount in all,
// refunded of them, and refundedCount of them with a refund) in t.
func (t *PaymentTotals) Add(status string, count int, amount, refunded int64, refundedCount int) {
	var tally *PaymentTally
	switch status {
	case ChargeSucceeded:
		tally = &t.Charged
	case ChargeRecovered:
		tally = &t.Recovered
	case ChargeDeclined, ChargeAuthenticationRequired, ChargeFailed:
		tally = &t.Failed
	default:
		tally = &t.Processing
	}
	tally.Count += count
	tally.Money = Money{Amount: tally.Money.Amount + amount, Currency: t.Currency}
	t.Refunded.Count += refundedCount
	t.Refunded.Money = Money{Amount: t.Refunded.Money.Amount + refunded, Currency: t.Currency}
}

// Payments returns a page of charge attempts across customers, newest first.
func (s *Service) Payments(ctx context.Context, q PaymentQuery) ([]Payment, error) {
	if q.Limit <= 0 || q.Limit > paymentExportBatch {
		q.Limit = PaymentPageSize
	}
	list, err := s.store.ListPayments(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	return list, nil
}

// FoldPaymentTotals compacts the counters of the days before today that
// the totals read, so that a range of days sums a row per day and key
// however many charges ran at once; it returns how many keys it folded.
func (s *Service) FoldPaymentTotals(ctx context.Context) (int64, error) {
	return s.store.FoldPaymentTotals(ctx, s.now())
}

// PaymentTotals sums the whole filtered set (the cursor aside), per currency.
func (s *Service) PaymentTotals(ctx context.Context, q PaymentQuery) ([]PaymentTotals, error) {
	q.Before, q.BeforeID = time.Time{}, 0
	totals, err := s.store.PaymentTotals(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("payment totals: %w", err)
	}
	return totals, nil
}

// EachPayment calls fn with every charge attempt of the filtered set, newest
// first, from the query's cursor on: the same rows, in the same order, as
// the list's pages one after the other. It reads them a batch at a time,
// so an export of any size holds one batch in memory.
func (s *Service) EachPayment(ctx context.Context, q PaymentQuery, fn func(Payment) error) error {
	q.Limit = paymentExportBatch
	for {
		list, err := s.Payments(ctx, q)
		if err != nil {
			return err
		}
		for _, p := range list {
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(list) < q.Limit {
			return nil
		}
		last := list[len(list)-1]
		q.Before, q.BeforeID = last.CreatedAt, last.ID
	}
}

// NextPaymentPage is the cursor after the last payment of a page, as query values.
func NextPaymentPage(last Payment) (before, beforeID string) {
	return idCursor(last.CreatedAt, last.ID)
}

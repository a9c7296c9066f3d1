package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// paymentOrder is the order a charge attempt was for: its own key's, or,
// for an automatic retry of a soft decline, the retried charge's.
const paymentOrder = `coalesce(
	(SELECT oc.order_id FROM order_charges oc WHERE oc.idempotency_key = ca.idempotency_key),
	(SELECT oc.order_id FROM charge_attempts r JOIN order_charges oc ON oc.idempotency_key = r.idempotency_key WHERE r.id = ca.retry_of), 0)`

// paymentWhere is the WHERE clause of a payments query, built from the
// filters it has: a generic plan of "($1 = ” OR status = $1)" could not
// pick the index of the filter in use. args receives the values.
func paymentWhere(q billing.PaymentQuery, args *queryArgs) string {
	where := []string{"true"}
	if q.Status != "" {
		where = append(where, "ca.status = "+args.add(q.Status))
	}
	if !q.From.IsZero() {
		where = append(where, "ca.created_at >= "+args.add(q.From))
	}
	if !q.Until.IsZero() {
		where = append(where, "ca.created_at < "+args.add(q.Until))
	}
	if !q.Before.IsZero() {
		where = append(where, "(ca.created_at, ca.id) < ("+args.add(q.Before)+", "+args.add(q.BeforeID)+")")
	}
	return strings.Join(where, " AND ")
}

// queryArgs collects a query's values as its WHERE clause is built.
type queryArgs []any

// add appends v and returns its placeholder ("$3").
func (a *queryArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// ListPayments returns a page of charge attempts across customers, newest
// first, with their order, by keyset: each filter has an
// index in this order (migration 013).
func (db *DB) ListPayments(ctx context.Context, q billing.PaymentQuery) ([]billing.Payment, error) {
	var args queryArgs
	where := paymentWhere(q, &args)
	limit := args.add(q.Limit)
	rows, err := db.pool.Query(ctx, `SELECT `+chargeAttemptColumns+`, `+paymentOrder+chargeAttemptFrom+`
		WHERE `+where+`
		ORDER BY ca.created_at DESC, ca.id DESC
		LIMIT `+limit, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Payment, error) {
		var (
			s attemptScan
			p billing.Payment
		)
		err := row.Scan(append(s.fields(), &p.OrderID)...)
		p.ChargeAttempt = s.attempt()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return list, nil
}

// PaymentTotals sums the charge attempts a query selects, per currency and
// status, from the counters a trigger keeps per day (migrations 013 and
// 016): a few rows a day of the range, not every attempt. The query's
// bounds are whole days (UTC), as the filter offers.
func (db *DB) PaymentTotals(ctx context.Context, q billing.PaymentQuery) ([]billing.PaymentTotals, error) {
	var args queryArgs
	where := []string{"true"}
	if q.Status != "" {
		where = append(where, "status = "+args.add(q.Status))
	}
	if !q.From.IsZero() {
		where = append(where, "day >= "+args.add(q.From.UTC().Format(time.DateOnly))+"::date")
	}
	if !q.Until.IsZero() {
		where = append(where, "day < "+args.add(q.Until.UTC().Format(time.DateOnly))+"::date")
	}
	rows, err := db.pool.Query(ctx, `
		SELECT currency, status, sum(n)::bigint, sum(amount)::bigint, sum(refunded)::bigint, sum(refunded_n)::bigint
		FROM payment_day_totals WHERE `+strings.Join(where, " AND ")+`
		GROUP BY currency, status HAVING sum(n) > 0
		ORDER BY currency, status`, args...)
	if err != nil {
		return nil, fmt.Errorf("payment totals: %w", err)
	}
	defer rows.Close()
	var out []billing.PaymentTotals
	for rows.Next() {
		var (
			currency, status       string
			count, refundedCount   int
			amount, refundedAmount int64
		)
		if err := rows.Scan(&currency, &status, &count, &amount, &refundedAmount, &refundedCount); err != nil {
			return nil, fmt.Errorf("payment totals: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Currency != currency {
			out = append(out, billing.NewPaymentTotals(currency))
		}
		out[len(out)-1].Add(status, count, amount, refundedAmount, refundedCount)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payment totals: %w", err)
	}
	return out, nil
}

// FoldPaymentTotals adds the counter rows of the days before today (UTC)
// into each key's shard 0 (migration 016), and returns how many keys it
// folded. It takes the rows it removes, then the shard 0 rows it adds to,
// each in key order, as the counting trigger takes a charge's rows; and it
// gives up rather than wait on a charge's row (lock_timeout), so that it
// can never be the other half of a deadlock that fails a charge: what it
// leaves, the next run folds.
func (db *DB) FoldPaymentTotals(ctx context.Context, now time.Time) (int64, error) {
	today := now.UTC().Format(time.DateOnly)
	var folded int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			WITH gone AS (
				DELETE FROM payment_day_totals t
				WHERE (t.day, t.status, t.currency, t.shard) IN (
					SELECT day, status, currency, shard FROM payment_day_totals
					WHERE day < $1::date AND shard <> 0
					ORDER BY day, status, currency, shard FOR UPDATE)
				RETURNING t.day, t.status, t.currency, t.n, t.amount, t.refunded, t.refunded_n
			)
			INSERT INTO payment_day_totals AS t (day, status, currency, shard, n, amount, refunded, refunded_n)
			SELECT day, status, currency, 0, sum(n), sum(amount), sum(refunded), sum(refunded_n) FROM gone
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
			ON CONFLICT ON CONSTRAINT payment_day_totals_pkey DO UPDATE SET
				n = t.n + excluded.n, amount = t.amount + excluded.amount,
				refunded = t.refunded + excluded.refunded, refunded_n = t.refunded_n + excluded.refunded_n`, today)
		folded = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fold payment totals before %s: %w", today, err)
	}
	return folded, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const chargeRefundColumns = `id, charge_attempt_id, payment_intent_id, amount, currency, status,
	coalesce(idempotency_key, ''), coalesce(refund_id, ''), coalesce(failure_message, ''), created_at`

func scanChargeRefund(row pgx.Row) (billing.ChargeRefund, error) {
	var r billing.ChargeRefund
	err := row.Scan(&r.ID, &r.AttemptID, &r.PaymentIntentID, &r.Money.Amount, &r.Money.Currency, &r.Status,
		&r.IdempotencyKey, &r.RefundID, &r.FailureMessage, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, billing.ErrNotFound
	}
	return r, err
}

// CreateChargeRefund commits a pending refund, or returns the one that holds
// its key. The attempt's row is locked while what is left is counted, so
// concurrent refunds are counted one after the other: pending and succeeded
// refunds, or what Stripe said was refunded if that is more.
func (db *DB) CreateChargeRefund(ctx context.Context, r billing.ChargeRefund) (billing.ChargeRefund, bool, error) {
	var (
		out     billing.ChargeRefund
		created bool
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		existing, err := scanChargeRefund(tx.QueryRow(ctx, `SELECT `+chargeRefundColumns+` FROM charge_refunds WHERE idempotency_key = $1`, r.IdempotencyKey))
		if err == nil {
			out = existing
			return nil
		}
		if !errors.Is(err, billing.ErrNotFound) {
			return err
		}
		var paid, used int64
		err = tx.QueryRow(ctx, `
			SELECT ca.amount, greatest(ca.refunded_on_stripe,
			       (SELECT coalesce(sum(amount), 0) FROM charge_refunds WHERE charge_attempt_id = ca.id AND status IN ('pending', 'succeeded')))
			FROM charge_attempts ca WHERE ca.id = $1 AND ca.status IN ('succeeded', 'recovered') FOR UPDATE`, r.AttemptID).Scan(&paid, &used)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("attempt %d is not paid: %w", r.AttemptID, billing.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if r.Money.Amount > paid-used {
			return &billing.RefundLimitError{Paid: billing.Money{Amount: paid, Currency: r.Money.Currency},
				Remaining: billing.Money{Amount: max(paid-used, 0), Currency: r.Money.Currency}}
		}
		out, err = scanChargeRefund(tx.QueryRow(ctx, `
			INSERT INTO charge_refunds (charge_attempt_id, payment_intent_id, amount, currency, idempotency_key)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+chargeRefundColumns,
			r.AttemptID, r.PaymentIntentID, r.Money.Amount, r.Money.Currency, r.IdempotencyKey))
		created = err == nil
		return err
	})
	var limit *billing.RefundLimitError
	if errors.As(err, &limit) {
		return billing.ChargeRefund{}, false, err
	}
	if err != nil {
		return billing.ChargeRefund{}, false, fmt.Errorf("create charge refund of attempt %d: %w", r.AttemptID, err)
	}
	return out, created, nil
}

// FinishChargeRefund records what became of a pending refund; one settled
// already (by its webhook) is left as it is.
func (db *DB) FinishChargeRefund(ctx context.Context, id int64, status, refundID, failure string) (billing.ChargeRefund, error) {
	r, err := scanChargeRefund(db.pool.QueryRow(ctx, `
		UPDATE charge_refunds SET status = CASE WHEN status = 'pending' THEN $2 ELSE status END,
		       refund_id = coalesce(refund_id, nullif($3, '')), failure_message = coalesce(nullif($4, ''), failure_message), updated_at = now()
		WHERE id = $1 RETURNING `+chargeRefundColumns, id, status, refundID, failure))
	if err != nil {
		return r, fmt.Errorf("finish charge refund %d: %w", id, err)
	}
	return r, nil
}

// ChargeRefund returns one refund.
func (db *DB) ChargeRefund(ctx context.Context, id int64) (billing.ChargeRefund, error) {
	r, err := scanChargeRefund(db.pool.QueryRow(ctx, `SELECT `+chargeRefundColumns+` FROM charge_refunds WHERE id = $1`, id))
	if err != nil {
		return r, fmt.Errorf("charge refund %d: %w", id, err)
	}
	return r, nil
}

// ChargeRefunds returns an attempt's refunds, oldest first.
func (db *DB) ChargeRefunds(ctx context.Context, attemptID int64) ([]billing.ChargeRefund, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+chargeRefundColumns+` FROM charge_refunds
		WHERE charge_attempt_id = $1 ORDER BY created_at, id`, attemptID)
	if err != nil {
		return nil, fmt.Errorf("refunds of charge attempt %d: %w", attemptID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.ChargeRefund, error) { return scanChargeRefund(row) })
	if err != nil {
		return nil, fmt.Errorf("refunds of charge attempt %d: %w", attemptID, err)
	}
	return list, nil
}

// paidAttemptOf is the attempt a PaymentIntent paid, as SQL: $1 is the PaymentIntent.
const paidAttemptOf = `SELECT id FROM charge_attempts
	WHERE (status = 'succeeded' AND payment_intent_id = $1) OR (status = 'recovered' AND recovered_payment_intent_id = $1)`

// queueRefund writes a refund read from Stripe: onto the row made here
// (named in its metadata), else onto the row of its refund id, else as a new
// row of the attempt its PaymentIntent paid. A refund of anything else (a
// duplicate payment's) is not an attempt's and writes nothing.
func queueRefund(b *pgx.Batch, r billing.Refund) {
	b.Queue(`
		WITH mine AS (
			UPDATE charge_refunds SET status = $3, refund_id = $2, updated_at = now(),
			       failure_message = coalesce(nullif($6, ''), failure_message)
			WHERE (id = $5 AND payment_intent_id = $1 AND (refund_id IS NULL OR refund_id = $2)) OR refund_id = $2
			RETURNING id
		)
		INSERT INTO charge_refunds (charge_attempt_id, payment_intent_id, amount, currency, status, refund_id)
		SELECT a.id, $1, $4, $7, $3, $2 FROM (`+paidAttemptOf+`) a
		WHERE NOT EXISTS (SELECT 1 FROM mine)
		ON CONFLICT (refund_id) DO NOTHING`,
		r.PaymentIntentID, r.ID, r.Status, r.Amount, r.LocalID, r.FailureReason, r.Currency)
}

// queueRefundedCharge raises what Stripe says was refunded of an attempt's payment.
func queueRefundedCharge(b *pgx.Batch, c billing.ChargeState) {
	b.Queue(`UPDATE charge_attempts SET refunded_on_stripe = greatest(refunded_on_stripe, $2), updated_at = now()
		WHERE id IN (`+paidAttemptOf+`)`, c.PaymentIntentID, c.AmountRefunded)
}

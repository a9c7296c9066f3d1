package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const recoveryRefundColumns = `id, charge_attempt_id, coalesce(session_id, ''), payment_intent_id, amount, currency, status,
	coalesce(refund_id, ''), attempts, coalesce(last_error, ''), created_at, refunded_at`

func scanRecoveryRefund(row pgx.Row) (billing.RecoveryRefund, error) {
	var (
		r          billing.RecoveryRefund
		refundedAt *time.Time
	)
	err := row.Scan(&r.ID, &r.ChargeAttemptID, &r.SessionID, &r.PaymentIntentID, &r.Money.Amount, &r.Money.Currency,
		&r.Status, &r.RefundID, &r.Attempts, &r.LastError, &r.CreatedAt, &refundedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, billing.ErrNotFound
	}
	if refundedAt != nil {
		r.RefundedAt = *refundedAt
	}
	return r, err
}

// queueDuplicatePayment records, after a recovery's guarded update in the
// same transaction, a payment for an attempt that another PaymentIntent has
// already paid. The attempt row lock taken by that update orders concurrent
// recoveries, so exactly one PaymentIntent pays the attempt and every other
// one gets a row here, to be refunded.
func queueDuplicatePayment(b *pgx.Batch, r billing.Recovery) {
	if r.PaymentIntentID == "" {
		return
	}
	b.Queue(`
		INSERT INTO recovery_refunds (charge_attempt_id, session_id, payment_intent_id, amount, currency)
		SELECT id, nullif($2, ''), $3, amount, currency FROM charge_attempts
		WHERE id = $1 AND (
			(status = 'recovered' AND recovered_payment_intent_id IS DISTINCT FROM $3) OR
			(status = 'succeeded' AND payment_intent_id IS DISTINCT FROM $3))
		ON CONFLICT (payment_intent_id) DO NOTHING`, r.AttemptID, r.SessionID, r.PaymentIntentID)
}

// RecoveryRefunds returns an attempt's duplicate payments, oldest first.
func (db *DB) RecoveryRefunds(ctx context.Context, attemptID int64) ([]billing.RecoveryRefund, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+recoveryRefundColumns+` FROM recovery_refunds
		WHERE charge_attempt_id = $1 ORDER BY created_at, id`, attemptID)
	if err != nil {
		return nil, fmt.Errorf("recovery refunds of attempt %d: %w", attemptID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.RecoveryRefund, error) { return scanRecoveryRefund(row) })
	if err != nil {
		return nil, fmt.Errorf("recovery refunds of attempt %d: %w", attemptID, err)
	}
	return list, nil
}

// RecoveryRefundOfSession returns the duplicate payment a session made.
func (db *DB) RecoveryRefundOfSession(ctx context.Context, sessionID string) (billing.RecoveryRefund, error) {
	r, err := scanRecoveryRefund(db.pool.QueryRow(ctx, `SELECT `+recoveryRefundColumns+` FROM recovery_refunds
		WHERE session_id = $1 ORDER BY id LIMIT 1`, sessionID))
	if err != nil {
		return r, fmt.Errorf("recovery refund of session %s: %w", sessionID, err)
	}
	return r, nil
}

// PendingRecoveryRefunds returns duplicate payments still to refund: one
// attempt's, or every attempt's with attemptID 0.
func (db *DB) PendingRecoveryRefunds(ctx context.Context, attemptID int64) ([]billing.RecoveryRefund, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+recoveryRefundColumns+` FROM recovery_refunds
		WHERE status = 'pending' AND ($1 = 0 OR charge_attempt_id = $1) ORDER BY created_at, id LIMIT 100`, attemptID)
	if err != nil {
		return nil, fmt.Errorf("pending recovery refunds: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.RecoveryRefund, error) { return scanRecoveryRefund(row) })
	if err != nil {
		return nil, fmt.Errorf("pending recovery refunds: %w", err)
	}
	return list, nil
}

// FinishRecoveryRefund records the refund Stripe made, or why it failed.
func (db *DB) FinishRecoveryRefund(ctx context.Context, id int64, refundID, failure string) error {
	var err error
	if refundID != "" {
		_, err = db.pool.Exec(ctx, `
			UPDATE recovery_refunds SET status = 'refunded', refund_id = $2, refunded_at = now(),
			       attempts = attempts + 1, last_error = NULL
			WHERE id = $1 AND status = 'pending'`, id, refundID)
	} else {
		_, err = db.pool.Exec(ctx, `UPDATE recovery_refunds SET attempts = attempts + 1, last_error = $2 WHERE id = $1 AND status = 'pending'`, id, failure)
	}
	if err != nil {
		return fmt.Errorf("finish recovery refund %d: %w", id, err)
	}
	return nil
}

// FailedIntentsToCancel returns the failed PaymentIntents of recovered
// attempts not yet cancelled on Stripe: one attempt's, or every attempt's
// with attemptID 0.
func (db *DB) FailedIntentsToCancel(ctx context.Context, attemptID int64) ([]billing.FailedIntent, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, payment_intent_id FROM charge_attempts
		WHERE status = 'recovered' AND intent_canceled_at IS NULL AND payment_intent_id IS NOT NULL
		  AND payment_intent_id IS DISTINCT FROM recovered_payment_intent_id
		  AND ($1 = 0 OR id = $1)
		ORDER BY id LIMIT 100`, attemptID)
	if err != nil {
		return nil, fmt.Errorf("failed intents to cancel: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.FailedIntent, error) {
		var f billing.FailedIntent
		err := row.Scan(&f.AttemptID, &f.PaymentIntentID)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("failed intents to cancel: %w", err)
	}
	return list, nil
}

// FailedIntentCanceled records that an attempt's failed PaymentIntent was
// cancelled on Stripe, or with failure set why it was not (it stays listed).
func (db *DB) FailedIntentCanceled(ctx context.Context, attemptID int64, failure string) error {
	if len(failure) > maxErrorLength {
		failure = failure[:maxErrorLength]
	}
	_, err := db.pool.Exec(ctx, `
		UPDATE charge_attempts
		SET intent_canceled_at = CASE WHEN $2 = '' THEN now() END, intent_cancel_error = nullif($2, ''), updated_at = now()
		WHERE id = $1 AND intent_canceled_at IS NULL`, attemptID, failure)
	if err != nil {
		return fmt.Errorf("failed intent canceled %d: %w", attemptID, err)
	}
	return nil
}

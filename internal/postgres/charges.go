package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const chargeAttemptColumns = `ca.id, ca.customer_id, coalesce(c.email, ''), coalesce(c.stripe_customer_id, ''),
	ca.payment_method_id, coalesce(cpm.type, ''), coalesce(cpm.brand, ''), coalesce(cpm.last4, ''), ca.amount, ca.currency, ca.idempotency_key, ca.status, coalesce(ca.payment_intent_id, ''),
	coalesce(ca.failure_code, ''), coalesce(ca.decline_code, ''), coalesce(ca.failure_message, ''),
	coalesce(ca.recovery_session_id, ''), coalesce(ca.recovered_payment_intent_id, ''), ca.recovered_at, ca.created_at,
	(SELECT count(*) FROM recovery_refunds r WHERE r.charge_attempt_id = ca.id),
	(SELECT count(*) FROM recovery_refunds r WHERE r.charge_attempt_id = ca.id AND r.status = 'refunded'),
	ca.description, ca.withdrawn_at,
	greatest(ca.refunded_on_stripe, ca.refunded_here),
	coalesce(ca.retry_of, 0), coalesce(ca.retry_number, 0), ` + dunningColumns

const chargeAttemptFrom = ` FROM charge_attempts ca JOIN customers c ON c.id = ca.customer_id
	LEFT JOIN payment_methods cpm ON cpm.id = ca.payment_method_id
	LEFT JOIN dunning d ON d.charge_attempt_id = ca.id `

// attemptScan receives chargeAttemptColumns.
type attemptScan struct {
	a                        billing.ChargeAttempt
	recoveredAt, withdrawnAt *time.Time
	d                        dunningRow
}

func (s *attemptScan) fields() []any {
	a := &s.a
	return append([]any{&a.ID, &a.CustomerID, &a.CustomerEmail, &a.StripeCustomerID, &a.PaymentMethodID,
		&a.CardType, &a.CardBrand, &a.CardLast4, &a.Money.Amount, &a.Money.Currency, &a.IdempotencyKey, &a.Status, &a.PaymentIntentID,
		&a.FailureCode, &a.DeclineCode, &a.FailureMessage, &a.RecoverySessionID, &a.RecoveredPaymentIntentID, &s.recoveredAt, &a.CreatedAt,
		&a.DuplicatePayments, &a.DuplicatesRefunded, &a.Description, &s.withdrawnAt, &a.Refunded,
		&a.RetryOf, &a.RetryNumber}, s.d.fields()...)
}

func (s *attemptScan) attempt() billing.ChargeAttempt {
	a := s.a
	a.RecoveredAt, a.WithdrawnAt = deref(s.recoveredAt), deref(s.withdrawnAt)
	a.Dunning = s.d.dunning()
	return a
}

func scanChargeAttempt(row pgx.Row) (billing.ChargeAttempt, error) {
	var s attemptScan
	err := row.Scan(s.fields()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.a, billing.ErrNotFound
	}
	return s.attempt(), err
}

// CreateChargeAttempt commits a new attempt and its lines, or returns the
// one that already holds its idempotency key.
func (db *DB) CreateChargeAttempt(ctx context.Context, a billing.ChargeAttempt, items []billing.LineItem) (billing.ChargeAttempt, bool, error) {
	var (
		id      int64
		created bool
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, status, description,
			                             retry_of, retry_number, created_at)
			VALUES ($1, $2, $3, $4, $5, 'processing', $6, $7, $8, coalesce($9, now()))
			ON CONFLICT (idempotency_key) DO NOTHING
			RETURNING id`, a.CustomerID, a.PaymentMethodID, a.Money.Amount, a.Money.Currency, a.IdempotencyKey, a.Description,
			nullID(a.RetryOf), nullInt(a.RetryNumber), nullTime(a.CreatedAt)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return tx.QueryRow(ctx, `SELECT id FROM charge_attempts WHERE idempotency_key = $1`, a.IdempotencyKey).Scan(&id)
		}
		if err != nil {
			return err
		}
		created = true
		batch := &pgx.Batch{}
		for i, it := range items {
			batch.Queue(`INSERT INTO charge_attempt_items (charge_attempt_id, position, name, unit_amount, quantity) VALUES ($1, $2, $3, $4, $5)`,
				id, i, it.Name, it.UnitAmount, it.Quantity)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return billing.ChargeAttempt{}, false, fmt.Errorf("create charge attempt: %w", err)
	}
	saved, err := db.ChargeAttempt(ctx, id)
	return saved, created, err
}

// FinishChargeAttempt records Stripe's answer for a processing attempt and,
// in the same transaction, what it sets going, if the attempt then holds
// that status. An attempt already settled otherwise (by the webhook, with
// another outcome) is left as it is, and so is its follow-up.
func (db *DB) FinishChargeAttempt(ctx context.Context, id int64, o billing.ChargeOutcome, status string, next billing.ChargeFollowUp) (billing.ChargeAttempt, error) {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		update := billing.ChargeUpdate{AttemptID: id, Status: status, Outcome: o, FollowUp: next}
		batch := &pgx.Batch{}
		queueChargeUpdate(batch, update)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		return db.writeChargeFollowUps(ctx, tx, []billing.ChargeUpdate{update})
	})
	if err != nil {
		return billing.ChargeAttempt{}, fmt.Errorf("finish charge attempt %d: %w", id, err)
	}
	return db.ChargeAttempt(ctx, id)
}

// FollowUp writes a follow-up with no charge outcome to record, in one transaction.
func (db *DB) FollowUp(ctx context.Context, next billing.ChargeFollowUp) error {
	if err := db.inTx(ctx, func(tx pgx.Tx) error { return db.writeFollowUp(ctx, tx, next) }); err != nil {
		return fmt.Errorf("follow up: %w", err)
	}
	return nil
}

// writeFollowUp writes a dunning step, then the customer's message if the
// step was taken (a step taken twice writes no second message).
func (db *DB) writeFollowUp(ctx context.Context, tx pgx.Tx, next billing.ChargeFollowUp) error {
	if next.Dunning != nil {
		taken, err := writeDunningChange(ctx, tx, *next.Dunning)
		if err != nil || !taken {
			return err
		}
	}
	if next.Notify != nil {
		if _, _, err := db.insertNotification(ctx, tx, *next.Notify); err != nil {
			return err
		}
	}
	return nil
}

func queueChargeUpdate(b *pgx.Batch, u billing.ChargeUpdate) {
	b.Queue(`
		UPDATE charge_attempts
		SET status = $2, payment_intent_id = coalesce(nullif($3, ''), payment_intent_id),
		    failure_code = nullif($4, ''), decline_code = nullif($5, ''), failure_message = nullif($6, ''),
		    updated_at = now()
		WHERE id = $1 AND status = 'processing'`,
		u.AttemptID, u.Status, u.Outcome.PaymentIntentID, u.Outcome.Code, u.Outcome.DeclineCode, u.Outcome.Message)
}

// ChargeAttempt returns one attempt with its customer.
func (db *DB) ChargeAttempt(ctx context.Context, id int64) (billing.ChargeAttempt, error) {
	a, err := scanChargeAttempt(db.pool.QueryRow(ctx, `SELECT `+chargeAttemptColumns+chargeAttemptFrom+`WHERE ca.id = $1`, id))
	if err != nil {
		return a, fmt.Errorf("charge attempt %d: %w", id, err)
	}
	return a, nil
}

// ChargeAttemptItems returns the lines an attempt pays for, in order.
func (db *DB) ChargeAttemptItems(ctx context.Context, attemptID int64) ([]billing.LineItem, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, unit_amount, quantity FROM charge_attempt_items
		WHERE charge_attempt_id = $1 ORDER BY position`, attemptID)
	if err != nil {
		return nil, fmt.Errorf("items of charge attempt %d: %w", attemptID, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.LineItem, error) {
		var it billing.LineItem
		err := row.Scan(&it.Name, &it.UnitAmount, &it.Quantity)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("items of charge attempt %d: %w", attemptID, err)
	}
	return items, nil
}

// WithdrawChargeAttempt marks a failed attempt withdrawn and returns it.
func (db *DB) WithdrawChargeAttempt(ctx context.Context, attemptID int64) (billing.ChargeAttempt, error) {
	_, err := db.pool.Exec(ctx, `
		UPDATE charge_attempts SET withdrawn_at = now(), updated_at = now()
		WHERE id = $1 AND status IN ('declined', 'authentication_required') AND withdrawn_at IS NULL`, attemptID)
	if err != nil {
		return billing.ChargeAttempt{}, fmt.Errorf("withdraw charge attempt %d: %w", attemptID, err)
	}
	return db.ChargeAttempt(ctx, attemptID)
}

// ChargeAttemptOfSession returns the attempt a recovery session pays.
func (db *DB) ChargeAttemptOfSession(ctx context.Context, sessionID string) (billing.ChargeAttempt, error) {
	a, err := scanChargeAttempt(db.pool.QueryRow(ctx, `SELECT `+chargeAttemptColumns+chargeAttemptFrom+`WHERE ca.recovery_session_id = $1`, sessionID))
	if err != nil {
		return a, fmt.Errorf("charge attempt of session %s: %w", sessionID, err)
	}
	return a, nil
}

// CustomerChargeAttempts returns a customer's attempts, newest first.
func (db *DB) CustomerChargeAttempts(ctx context.Context, customerID int64) ([]billing.ChargeAttempt, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+chargeAttemptColumns+chargeAttemptFrom+`
		WHERE ca.customer_id = $1 ORDER BY ca.created_at DESC, ca.id DESC LIMIT 100`, customerID)
	if err != nil {
		return nil, fmt.Errorf("charge attempts of customer %d: %w", customerID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.ChargeAttempt, error) { return scanChargeAttempt(row) })
	if err != nil {
		return nil, fmt.Errorf("charge attempts of customer %d: %w", customerID, err)
	}
	return list, nil
}

// RecordRecoverySession records a session just created on Stripe and makes
// it the attempt's recovery session, if the attempt still has the session
// the caller replaced and can still be paid. Nothing is locked across the
// Stripe call that made it: concurrent callers converge here, on the first
// write (with the key derived from the replaced session, they usually hold
// the same session anyway).
func (db *DB) RecordRecoverySession(ctx context.Context, attemptID int64, replaced string, s billing.CheckoutSession) (billing.CheckoutSession, error) {
	var (
		status, current string
		url             *string
		expiresAt       *time.Time
		sessionStatus   *string
		withdrawn       bool
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		batch.Queue(`
			INSERT INTO checkout_sessions (id, customer_id, mode, status, currency, url, expires_at)
			VALUES ($1, $2, 'payment', 'open', $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`,
			s.ID, nullID(s.CustomerID), s.Currency, s.URL, nullTime(s.ExpiresAt))
		batch.Queue(`
			UPDATE charge_attempts SET recovery_session_id = $2, updated_at = now()
			WHERE id = $1 AND status IN ('declined', 'authentication_required') AND withdrawn_at IS NULL
			  AND coalesce(recovery_session_id, '') = $3`, attemptID, s.ID, replaced)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			SELECT ca.status, coalesce(ca.recovery_session_id, ''), cs.url, cs.expires_at, cs.status, ca.withdrawn_at IS NOT NULL
			FROM charge_attempts ca LEFT JOIN checkout_sessions cs ON cs.id = ca.recovery_session_id
			WHERE ca.id = $1`, attemptID).Scan(&status, &current, &url, &expiresAt, &sessionStatus, &withdrawn)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = billing.ErrNotFound
	}
	if err != nil {
		return billing.CheckoutSession{}, fmt.Errorf("record recovery session %s of attempt %d: %w", s.ID, attemptID, err)
	}
	switch status {
	case billing.ChargeDeclined, billing.ChargeAuthenticationRequired:
		if withdrawn {
			return billing.CheckoutSession{}, billing.ErrNoLongerDue
		}
	case billing.ChargeSucceeded, billing.ChargeRecovered:
		return billing.CheckoutSession{}, billing.ErrAlreadyPaid
	default:
		return billing.CheckoutSession{}, billing.ErrLinkInvalid
	}
	out := billing.CheckoutSession{ID: current, Mode: billing.ModePayment}
	if url != nil {
		out.URL = *url
	}
	if expiresAt != nil {
		out.ExpiresAt = *expiresAt
	}
	if sessionStatus != nil {
		out.Status = *sessionStatus
	}
	return out, nil
}

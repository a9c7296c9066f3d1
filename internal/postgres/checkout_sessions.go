package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// CreateCheckoutSession records a session Stripe created.
func (db *DB) CreateCheckoutSession(ctx context.Context, s billing.CheckoutSession) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO checkout_sessions (id, customer_id, mode, status, currency, url)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		s.ID, nullID(s.CustomerID), s.Mode, s.Status, s.Currency, s.URL)
	if err != nil {
		return fmt.Errorf("create checkout session %s: %w", s.ID, err)
	}
	return nil
}

// CheckoutSession returns a recorded session.
func (db *DB) CheckoutSession(ctx context.Context, id string) (billing.CheckoutSession, error) {
	var (
		s           billing.CheckoutSession
		customerID  *int64
		completedAt *time.Time
	)
	err := db.pool.QueryRow(ctx, `
		SELECT id, customer_id, mode, status, currency, coalesce(url, ''), coalesce(setup_intent_id, ''),
		       created_at, completed_at
		FROM checkout_sessions WHERE id = $1`, id).
		Scan(&s.ID, &customerID, &s.Mode, &s.Status, &s.Currency, &s.URL, &s.SetupIntentID, &s.CreatedAt, &completedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("checkout session %s: %w", id, billing.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("checkout session %s: %w", id, err)
	}
	if customerID != nil {
		s.CustomerID = *customerID
	}
	if completedAt != nil {
		s.CompletedAt = *completedAt
	}
	return s, nil
}

// RecordSetup records a completed setup session. Every statement is an
// upsert or a guarded update, so concurrent and repeated runs converge on the
// same single row per object.
func (db *DB) RecordSetup(ctx context.Context, r billing.SetupRecord) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := upsertPaymentMethod(ctx, tx, r.PaymentMethod); err != nil {
			return err
		}
		if err := upsertSetupIntent(ctx, tx, r.SetupIntent); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			UPDATE checkout_sessions
			SET status = 'complete', setup_intent_id = $2, customer_id = coalesce(customer_id, $3),
			    completed_at = coalesce(completed_at, now())
			WHERE id = $1`, r.SessionID, r.SetupIntent.ID, nullID(r.CustomerID))
		if err != nil {
			return fmt.Errorf("complete session: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record setup of session %s: %w", r.SessionID, err)
	}
	return nil
}

func upsertSetupIntent(ctx context.Context, tx pgx.Tx, si billing.SetupIntent) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO setup_intents (id, customer_id, payment_method_id, status)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET
			customer_id = coalesce(excluded.customer_id, setup_intents.customer_id),
			payment_method_id = coalesce(excluded.payment_method_id, setup_intents.payment_method_id),
			status = excluded.status,
			updated_at = now()
		WHERE (setup_intents.status, setup_intents.customer_id, setup_intents.payment_method_id)
		      IS DISTINCT FROM (excluded.status, coalesce(excluded.customer_id, setup_intents.customer_id),
		                        coalesce(excluded.payment_method_id, setup_intents.payment_method_id))`,
		si.ID, nullID(si.CustomerID), nullString(si.PaymentMethodID), si.Status)
	if err != nil {
		return fmt.Errorf("upsert setup intent %s: %w", si.ID, err)
	}
	return nil
}

// nullID maps our "no id" zero to SQL NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

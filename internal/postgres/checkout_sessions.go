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
		INSERT INTO checkout_sessions (id, customer_id, mode, status, currency, url, expires_at, makes_default)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.ID, nullID(s.CustomerID), s.Mode, s.Status, s.Currency, s.URL, nullTime(s.ExpiresAt), s.MakesDefault)
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
		expiresAt   *time.Time
	)
	err := db.pool.QueryRow(ctx, `
		SELECT id, customer_id, mode, status, currency, coalesce(url, ''), coalesce(setup_intent_id, ''),
		       created_at, completed_at, expires_at, makes_default
		FROM checkout_sessions WHERE id = $1`, id).
		Scan(&s.ID, &customerID, &s.Mode, &s.Status, &s.Currency, &s.URL, &s.SetupIntentID, &s.CreatedAt, &completedAt, &expiresAt, &s.MakesDefault)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("checkout session %s: %w", id, billing.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("checkout session %s: %w", id, err)
	}
	s.CustomerID = deref(customerID)
	s.CompletedAt = deref(completedAt)
	s.ExpiresAt = deref(expiresAt)
	return s, nil
}

// nullID maps our "no id" zero to SQL NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

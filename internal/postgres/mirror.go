package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// Mirror returns the status, customer and watermark of a mirrored Stripe
// object. Stripe's id prefixes keep the tables' ids apart, so one statement
// asks all of them (each by a unique key: a PaymentIntent by the charge
// attempt that made it) in one round trip.
func (db *DB) Mirror(ctx context.Context, id string) (billing.Mirror, error) {
	var (
		m          billing.Mirror
		customerID *int64
		syncedAt   *time.Time
	)
	err := db.pool.QueryRow(ctx, `
		SELECT $2::text, status, customer_id, synced_at FROM payment_methods WHERE id = $1
		UNION ALL
		SELECT $3::text, status, customer_id, synced_at FROM setup_intents WHERE id = $1
		UNION ALL
		SELECT $4::text, status, customer_id, NULL FROM checkout_sessions WHERE id = $1
		UNION ALL
		SELECT $5::text, status, customer_id, NULL FROM charge_attempts WHERE payment_intent_id = $1
		LIMIT 1`, id, billing.MirrorPaymentMethod, billing.MirrorSetupIntent, billing.MirrorCheckoutSession, billing.MirrorPaymentIntent).
		Scan(&m.Kind, &m.Status, &customerID, &syncedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("mirror of %s: %w", id, billing.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("mirror of %s: %w", id, err)
	}
	m.CustomerID = deref(customerID)
	m.SyncedAt = deref(syncedAt)
	return m, nil
}

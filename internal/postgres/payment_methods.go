package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const paymentMethodColumns = `pm.id, coalesce(pm.customer_id, 0), pm.type, coalesce(pm.brand, ''), coalesce(pm.last4, ''),
	coalesce(pm.exp_month, 0), coalesce(pm.exp_year, 0), coalesce(pm.fingerprint, ''), pm.status,
	pm.stripe_created_at, pm.saved_at`

func paymentMethodFields(pm *billing.PaymentMethod) []any {
	return []any{&pm.ID, &pm.CustomerID, &pm.Type, &pm.Brand, &pm.Last4, &pm.ExpMonth, &pm.ExpYear,
		&pm.Fingerprint, &pm.Status, &pm.CreatedAt, &pm.SavedAt}
}

// SessionPaymentMethod returns the payment method a completed setup session saved.
func (db *DB) SessionPaymentMethod(ctx context.Context, sessionID string) (billing.PaymentMethod, error) {
	var pm billing.PaymentMethod
	err := db.pool.QueryRow(ctx, `
		SELECT `+paymentMethodColumns+`
		FROM checkout_sessions cs
		JOIN setup_intents si ON si.id = cs.setup_intent_id
		JOIN payment_methods pm ON pm.id = si.payment_method_id
		WHERE cs.id = $1`, sessionID).Scan(paymentMethodFields(&pm)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return pm, fmt.Errorf("payment method of session %s: %w", sessionID, billing.ErrNotFound)
	}
	if err != nil {
		return pm, fmt.Errorf("payment method of session %s: %w", sessionID, err)
	}
	return pm, nil
}

// ListPaymentMethods returns saved payment methods with their customer's
// email, newest first, one keyset page at a time.
func (db *DB) ListPaymentMethods(ctx context.Context, q billing.ListQuery) ([]billing.SavedPaymentMethod, error) {
	before := q.Before
	if before.IsZero() {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rows, err := db.pool.Query(ctx, `
		SELECT `+paymentMethodColumns+`, coalesce(c.email, '')
		FROM payment_methods pm
		LEFT JOIN customers c ON c.id = pm.customer_id
		WHERE (pm.saved_at, pm.id) < ($1, $2)
		ORDER BY pm.saved_at DESC, pm.id DESC
		LIMIT $3`, before, q.BeforeID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.SavedPaymentMethod, error) {
		var s billing.SavedPaymentMethod
		err := row.Scan(append(paymentMethodFields(&s.PaymentMethod), &s.CustomerEmail)...)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	return list, nil
}

func nullInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

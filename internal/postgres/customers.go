package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const customerColumns = `id, email, coalesce(stripe_customer_id, ''), created_at`

func scanCustomer(row pgx.Row) (billing.Customer, error) {
	var c billing.Customer
	err := row.Scan(&c.ID, &c.Email, &c.StripeID, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, billing.ErrNotFound
	}
	return c, err
}

// CustomerByEmail returns the customer with this (normalised) email.
func (db *DB) CustomerByEmail(ctx context.Context, email string) (billing.Customer, error) {
	c, err := scanCustomer(db.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE email = $1`, email))
	if err != nil {
		return c, fmt.Errorf("customer by email: %w", err)
	}
	return c, nil
}

// EnsureStripeCustomer returns the customer for email with its Stripe
// Customer, creating either when missing, in one transaction: a failed Stripe
// call leaves no row behind. The row lock held across create is what makes
// concurrent first clicks produce a single Stripe Customer.
func (db *DB) EnsureStripeCustomer(ctx context.Context, email string, create func(ctx context.Context, email, idempotencyKey string) (string, error)) (billing.Customer, error) {
	var c billing.Customer
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// A concurrent insert of the same email waits here for the first to commit.
		if _, err := tx.Exec(ctx, `INSERT INTO customers (email) VALUES ($1) ON CONFLICT (email) DO NOTHING`, email); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		c2, err := scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE email = $1 FOR UPDATE`, email))
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		c = c2
		if c.StripeID != "" {
			return nil
		}
		stripeID, err := create(ctx, email, billing.CustomerIdempotencyKey(email))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE customers SET stripe_customer_id = $2, updated_at = now() WHERE id = $1`, c.ID, stripeID); err != nil {
			return fmt.Errorf("link %s: %w", stripeID, err)
		}
		c.StripeID = stripeID
		return nil
	})
	if err != nil {
		return billing.Customer{}, fmt.Errorf("ensure stripe customer: %w", err)
	}
	return c, nil
}

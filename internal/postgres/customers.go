package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const customerColumns = `id, coalesce(email, ''), coalesce(stripe_customer_id, ''), coalesce(default_payment_method_id, ''), created_at`

func scanCustomer(row pgx.Row) (billing.Customer, error) {
	var c billing.Customer
	err := row.Scan(&c.ID, &c.Email, &c.StripeID, &c.DefaultPaymentMethodID, &c.CreatedAt)
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

// Customer returns a customer by our id.
func (db *DB) Customer(ctx context.Context, id int64) (billing.Customer, error) {
	c, err := scanCustomer(db.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if err != nil {
		return c, fmt.Errorf("customer %d: %w", id, err)
	}
	return c, nil
}

// CustomerByStripeID returns the customer of a Stripe Customer.
func (db *DB) CustomerByStripeID(ctx context.Context, stripeID string) (billing.Customer, error) {
	c, err := scanCustomer(db.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE stripe_customer_id = $1`, stripeID))
	if err != nil {
		return c, fmt.Errorf("customer %s: %w", stripeID, err)
	}
	return c, nil
}

// SetDefaultPaymentMethod makes one of the customer's cards its default.
func (db *DB) SetDefaultPaymentMethod(ctx context.Context, customerID int64, paymentMethodID string) error {
	tag, err := db.pool.Exec(ctx, `
		UPDATE customers SET default_payment_method_id = $2, updated_at = now()
		WHERE id = $1 AND EXISTS (SELECT 1 FROM payment_methods WHERE id = $2 AND customer_id = $1)`, customerID, paymentMethodID)
	if err != nil {
		return fmt.Errorf("set default card of customer %d: %w", customerID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set default card %s of customer %d: %w", paymentMethodID, customerID, billing.ErrNotFound)
	}
	return nil
}

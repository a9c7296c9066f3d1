package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storefront/storefront/internal/billing"
)

const customerColumns = `id, coalesce(email, ''), coalesce(stripe_customer_id, ''), coalesce(default_payment_method_id, ''), created_at, stripe_customer_generation`

func scanCustomer(row pgx.Row) (billing.Customer, error) {
	var c billing.Customer
	err := row.Scan(&c.ID, &c.Email, &c.StripeID, &c.DefaultPaymentMethodID, &c.CreatedAt, &c.StripeGeneration)
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
// Customer, creating either when missing. create is called with no
// transaction open and no connection held, so a slow Stripe holds no row
// lock and no pool connection; nothing is written before it succeeds, so a
// failed call leaves no row behind. Concurrent first clicks converge: create
// gets the key derived from the email, so Stripe answers every one of them
// with the same Customer, and the write keeps whichever link is there first.
func (db *DB) EnsureStripeCustomer(ctx context.Context, email string, create func(ctx context.Context, email, idempotencyKey string) (string, error)) (billing.Customer, error) {
	c, err := scanCustomer(db.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE email = $1`, email))
	if err == nil && c.StripeID != "" {
		return c, nil
	}
	if err != nil && !errors.Is(err, billing.ErrNotFound) {
		return billing.Customer{}, fmt.Errorf("ensure stripe customer: %w", err)
	}
	// c is the zero Customer (generation 0) when the email is new.
	stripeID, err := create(ctx, email, billing.CustomerIdempotencyKey(email, c.StripeGeneration))
	if err != nil {
		return billing.Customer{}, err
	}
	c, err = scanCustomer(db.pool.QueryRow(ctx, `
		INSERT INTO customers (email, stripe_customer_id) VALUES ($1, $2)
		ON CONFLICT (email) DO UPDATE
		SET stripe_customer_id = coalesce(customers.stripe_customer_id, excluded.stripe_customer_id), updated_at = now()
		RETURNING `+customerColumns, email, stripeID))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		// A concurrent caller linked the same Customer first: ON CONFLICT
		// arbitrates the email only, so the Stripe id's index refused ours.
		c, err = scanCustomer(db.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE email = $1`, email))
	}
	if err != nil {
		return billing.Customer{}, fmt.Errorf("ensure stripe customer: link %s: %w", stripeID, err)
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

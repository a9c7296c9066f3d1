-- Stripe Customers deleted on Stripe (customer.deleted, or Stripe answering
-- resource_missing for an id we stored). Their ids are unlinked from the
-- customer and never linked to anyone again, even by a late event.
CREATE TABLE deleted_stripe_customers (
    stripe_customer_id text PRIMARY KEY CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
    customer_id        bigint REFERENCES customers (id),
    deleted_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deleted_stripe_customers_customer_idx ON deleted_stripe_customers (customer_id);

-- How many Stripe Customers the customer has lost. It is part of the create
-- call's idempotency key, so that the next Save card makes a new Customer
-- instead of Stripe replaying the deleted one for the old key.
ALTER TABLE customers ADD COLUMN stripe_customer_generation integer NOT NULL DEFAULT 0
    CHECK (stripe_customer_generation >= 0);

-- The failed PaymentIntent of a recovered charge is cancelled on Stripe after
-- the recovery is recorded; until then (or after a failed try, kept in
-- intent_cancel_error) the next webhook or sync tries again.
ALTER TABLE charge_attempts
    ADD COLUMN intent_canceled_at timestamptz,
    ADD COLUMN intent_cancel_error text;
CREATE INDEX charge_attempts_intent_to_cancel_idx ON charge_attempts (id)
    WHERE status = 'recovered' AND intent_canceled_at IS NULL AND payment_intent_id IS NOT NULL;

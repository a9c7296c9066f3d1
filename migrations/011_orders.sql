-- The shop: a catalog, carts behind a cookie, and orders paid with a card
-- saved at checkout and charged later, off-session.

-- What the store sells. Prices are in minor units, as charges are; a product
-- is archived rather than deleted, since orders keep pointing at it.
CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    unit_amount bigint NOT NULL CHECK (unit_amount > 0 AND unit_amount <= 99999999),
    currency    text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_active_idx ON products (id) WHERE status = 'active';

-- A visitor's cart. Only a SHA-256 of the cookie's token is stored.
CREATE TABLE carts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cart_lines (
    cart_id    bigint NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id bigint NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cart_id, product_id)
);

-- Orders. Numbers start at 1001 so that the first one reads as an order
-- number, not a test row. Lines copy the name and price at checkout, so a
-- later edit of the catalog never changes what a customer agreed to pay.
CREATE TABLE orders (
    id                bigint GENERATED ALWAYS AS IDENTITY (START WITH 1001) PRIMARY KEY,
    email             text NOT NULL CHECK (email <> '' AND email = lower(email) AND length(email) <= 254),
    customer_id       bigint REFERENCES customers (id),
    status            text NOT NULL DEFAULT 'awaiting_card' CHECK (status IN ('awaiting_card', 'placed', 'charging',
                          'paid', 'payment_failed', 'canceled', 'partially_refunded', 'refunded')),
    currency          text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    total             bigint NOT NULL CHECK (total > 0 AND total <= 99999999),
    -- One per rendering of the cart page: a double-submitted checkout makes one order.
    checkout_key      text NOT NULL UNIQUE CHECK (length(checkout_key) BETWEEN 16 AND 255),
    cart_id           bigint REFERENCES carts (id) ON DELETE SET NULL,
    setup_session_id  text UNIQUE REFERENCES checkout_sessions (id),
    payment_method_id text REFERENCES payment_methods (id),
    -- The idempotency key of the charge in flight or last sent, stored before Stripe is called.
    charge_key        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    placed_at         timestamptz,
    paid_at           timestamptz,
    canceled_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'awaiting_card' OR status = 'canceled' OR payment_method_id IS NOT NULL),
    CHECK (status <> 'charging' OR charge_key IS NOT NULL)
);
CREATE INDEX orders_status_idx ON orders (status, id DESC);
CREATE INDEX orders_email_idx ON orders (email text_pattern_ops, id DESC);
CREATE INDEX orders_customer_idx ON orders (customer_id);

CREATE TABLE order_lines (
    order_id    bigint NOT NULL REFERENCES orders (id),
    position    smallint NOT NULL CHECK (position >= 0),
    product_id  bigint NOT NULL REFERENCES products (id),
    name        text NOT NULL CHECK (name <> ''),
    unit_amount bigint NOT NULL CHECK (unit_amount > 0),
    quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    PRIMARY KEY (order_id, position)
);

-- Every charge of an order, by the idempotency key its charge attempt
-- carries: the row is written with the key, before the attempt exists.
CREATE TABLE order_charges (
    idempotency_key text PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_charges_order_idx ON order_charges (order_id, created_at DESC);

-- What a charge is for, line by line: a recovery link's Checkout Session
-- shows the same lines, as the customer's order had them.
CREATE TABLE charge_attempt_items (
    charge_attempt_id bigint NOT NULL REFERENCES charge_attempts (id),
    position          smallint NOT NULL CHECK (position >= 0),
    name              text NOT NULL CHECK (name <> ''),
    unit_amount       bigint NOT NULL CHECK (unit_amount > 0),
    quantity          integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (charge_attempt_id, position)
);
ALTER TABLE charge_attempts
    ADD COLUMN description text NOT NULL DEFAULT '',
    -- A failed charge the store no longer asks for (its order was canceled):
    -- the recovery link stops working.
    ADD COLUMN withdrawn_at timestamptz,
    -- The most Stripe has said was refunded of the charge that paid the
    -- attempt (charge.refunded), refunds made on Stripe's dashboard included.
    ADD COLUMN refunded_on_stripe bigint NOT NULL DEFAULT 0 CHECK (refunded_on_stripe >= 0);
-- Refund and order events name the PaymentIntent that paid a recovered attempt.
CREATE INDEX charge_attempts_recovered_payment_intent_idx ON charge_attempts (recovered_payment_intent_id)
    WHERE recovered_payment_intent_id IS NOT NULL;

-- Refunds of a paid charge: made here (the row, with its idempotency key,
-- is written before Stripe is called, and its amount is reserved against
-- what was paid), or on Stripe and learnt from refund.* events.
CREATE TABLE charge_refunds (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charge_attempt_id bigint NOT NULL REFERENCES charge_attempts (id),
    payment_intent_id text NOT NULL CHECK (payment_intent_id ~ '^pi_[A-Za-z0-9]+$'),
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    idempotency_key   text UNIQUE,
    refund_id         text UNIQUE CHECK (refund_id ~ '^re_[A-Za-z0-9]+$'),
    failure_message   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (idempotency_key IS NOT NULL OR refund_id IS NOT NULL)
);
CREATE INDEX charge_refunds_attempt_idx ON charge_refunds (charge_attempt_id, created_at);

-- Order emails: a confirmation when the order is placed, a receipt when it
-- is paid; one of each per order. The kinds of the payment and card
-- reminders (migration 010) stay allowed, whichever of the two ran first.
ALTER TABLE notifications ADD COLUMN order_id bigint REFERENCES orders (id);
ALTER TABLE notifications ADD CONSTRAINT notifications_order_kind_key UNIQUE (order_id, kind);
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('payment_failed', 'payment_reminder', 'card_expiring', 'order_confirmation', 'order_receipt'));

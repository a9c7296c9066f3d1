-- Customers of the store. One row, and so one Stripe Customer, per email:
-- emails are stored lower-cased so the unique index catches case variants.
CREATE TABLE customers (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email              text NOT NULL CHECK (email <> '' AND email = lower(email) AND length(email) <= 254),
    stripe_customer_id text UNIQUE CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email_key ON customers (email);

-- Cards (and other payment methods) saved on Stripe, mirrored here.
CREATE TABLE payment_methods (
    id          text PRIMARY KEY CHECK (id ~ '^pm_[A-Za-z0-9]+$'),
    customer_id bigint REFERENCES customers (id),
    type        text NOT NULL CHECK (type <> ''),
    brand       text,
    last4       text CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month   smallint CHECK (exp_month BETWEEN 1 AND 12),
    exp_year    smallint CHECK (exp_year BETWEEN 1970 AND 9999),
    fingerprint text,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'detached')),
    stripe_created_at timestamptz NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- A card is only useful, and only shown, with the fields a person recognises it by.
    CHECK (type <> 'card' OR (brand IS NOT NULL AND last4 IS NOT NULL AND exp_month IS NOT NULL AND exp_year IS NOT NULL)),
    -- Only an attached payment method can be charged, so an active one has a customer.
    CHECK (status <> 'active' OR customer_id IS NOT NULL)
);
CREATE INDEX payment_methods_saved_at_idx ON payment_methods (saved_at DESC, id DESC);
CREATE INDEX payment_methods_customer_idx ON payment_methods (customer_id);

CREATE TABLE setup_intents (
    id                text PRIMARY KEY CHECK (id ~ '^seti_[A-Za-z0-9]+$'),
    customer_id       bigint REFERENCES customers (id),
    payment_method_id text REFERENCES payment_methods (id),
    status            text NOT NULL CHECK (status IN ('requires_payment_method', 'requires_confirmation',
                          'requires_action', 'processing', 'canceled', 'succeeded')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'succeeded' OR payment_method_id IS NOT NULL)
);
CREATE INDEX setup_intents_payment_method_idx ON setup_intents (payment_method_id);

-- Checkout Sessions this store created.
CREATE TABLE checkout_sessions (
    id              text PRIMARY KEY CHECK (id ~ '^cs_[A-Za-z0-9_]+$'),
    customer_id     bigint REFERENCES customers (id),
    mode            text NOT NULL CHECK (mode IN ('setup', 'payment')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'expired')),
    currency        text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    url             text,
    setup_intent_id text REFERENCES setup_intents (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    CHECK ((status = 'complete') = (completed_at IS NOT NULL)),
    CHECK (mode <> 'setup' OR status <> 'complete' OR setup_intent_id IS NOT NULL)
);
CREATE INDEX checkout_sessions_customer_idx ON checkout_sessions (customer_id);
CREATE INDEX checkout_sessions_setup_intent_idx ON checkout_sessions (setup_intent_id);

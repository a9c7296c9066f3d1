-- The last day a card can be charged, for the "expiring soon" filter.
ALTER TABLE payment_methods ADD COLUMN expires_on date
    GENERATED ALWAYS AS ((make_date(exp_year, exp_month, 1) + interval '1 month' - interval '1 day')::date) STORED;
CREATE INDEX payment_methods_expires_on_idx ON payment_methods (expires_on);
CREATE INDEX payment_methods_last4_idx ON payment_methods (last4, saved_at DESC, id DESC);
CREATE INDEX payment_methods_status_idx ON payment_methods (status, saved_at DESC, id DESC);
CREATE INDEX customers_email_prefix_idx ON customers (email text_pattern_ops);

-- The card charged when none is named; the card paid with through a recovery link becomes it.
ALTER TABLE customers ADD COLUMN default_payment_method_id text REFERENCES payment_methods (id);

ALTER TABLE checkout_sessions ADD COLUMN expires_at timestamptz;
ALTER TABLE checkout_sessions ADD COLUMN payment_intent_id text;

-- An off-session charge. The row, with its idempotency key, is committed
-- before Stripe is called: a retry after a crash sends the same key, and
-- Stripe answers with the PaymentIntent it already made instead of charging again.
CREATE TABLE charge_attempts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id       bigint NOT NULL REFERENCES customers (id),
    payment_method_id text NOT NULL REFERENCES payment_methods (id),
    amount            bigint NOT NULL CHECK (amount > 0 AND amount <= 99999999),
    currency          text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    idempotency_key   text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 16 AND 255),
    status            text NOT NULL DEFAULT 'processing'
                      CHECK (status IN ('processing', 'succeeded', 'declined', 'authentication_required', 'failed', 'recovered')),
    payment_intent_id text UNIQUE,
    failure_code      text,
    decline_code      text,
    failure_message   text,
    -- The payment-mode Checkout Session of the recovery link, while one is open or once paid.
    recovery_session_id text REFERENCES checkout_sessions (id),
    recovered_payment_intent_id text,
    recovered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'recovered') = (recovered_at IS NOT NULL))
);
CREATE INDEX charge_attempts_customer_idx ON charge_attempts (customer_id, created_at DESC);
CREATE INDEX charge_attempts_payment_method_idx ON charge_attempts (payment_method_id, created_at DESC);
CREATE INDEX charge_attempts_recovery_session_idx ON charge_attempts (recovery_session_id);

-- Messages to customers, written in the same transaction as what caused
-- them and sent (when SMTP is configured) by whichever replica claims them.
CREATE TABLE notifications (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id       bigint NOT NULL REFERENCES customers (id),
    charge_attempt_id bigint REFERENCES charge_attempts (id),
    kind              text NOT NULL CHECK (kind IN ('payment_failed')),
    recipient         text,
    subject           text NOT NULL,
    body              text NOT NULL,
    link              text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    UNIQUE (charge_attempt_id, kind)
);
CREATE INDEX notifications_unsent_idx ON notifications (created_at) WHERE sent_at IS NULL;

-- Secrets the replicas share, such as the key that signs recovery links.
CREATE TABLE app_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL CHECK (length(value) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

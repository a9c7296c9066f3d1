-- Every verified Stripe event, stored raw before it is acted on and keyed by
-- its id, so duplicates are recognised and failures can be re-applied.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]+$'),
    type         text NOT NULL CHECK (type <> ''),
    api_version  text NOT NULL DEFAULT '',
    object_id    text NOT NULL DEFAULT '',
    customer_id  bigint REFERENCES customers (id),
    created_at   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    applied_at   timestamptz,
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text,
    payload      text NOT NULL
);
CREATE INDEX stripe_events_unapplied_idx ON stripe_events (created_at) WHERE applied_at IS NULL;
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at DESC);
CREATE INDEX stripe_events_customer_idx ON stripe_events (customer_id, created_at DESC) WHERE customer_id IS NOT NULL;

-- A customer may first be seen through Stripe (an event for a Customer made
-- elsewhere) with no email on record.
ALTER TABLE customers ALTER COLUMN email DROP NOT NULL;

-- Watermarks: when the row's state was read from Stripe. Events arrive in any
-- order, so objects are read back from Stripe and a write only lands if what
-- it carries was read no earlier than what the row holds.
ALTER TABLE payment_methods ADD COLUMN synced_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE setup_intents ADD COLUMN synced_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE setup_intents ADD COLUMN last_error_code text;

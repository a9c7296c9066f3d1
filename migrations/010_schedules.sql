-- Dunning: a charge declined for a reason a later try can fix (a soft
-- decline, such as insufficient_funds) is charged again off-session on a
-- schedule, each retry an attempt of its own with its own idempotency key,
-- until one succeeds, a decline cannot be fixed by waiting, or the schedule
-- runs out. The customer is written to only then.
ALTER TABLE charge_attempts
    ADD COLUMN retry_of bigint REFERENCES charge_attempts (id),
    ADD COLUMN retry_number integer CHECK (retry_number > 0),
    ADD CONSTRAINT charge_attempts_retry_check CHECK ((retry_of IS NULL) = (retry_number IS NULL)),
    ADD CONSTRAINT charge_attempts_retry_key UNIQUE (retry_of, retry_number);

-- One row per soft-declined charge. Times come from the application's clock.
-- A replica claims a due row until claimed_until (a guarded update), so two
-- replicas never retry one charge at once; a replica that dies mid-retry
-- leaves the claim to run out, and the next run resends the same retry
-- attempt with its stored key.
CREATE TABLE dunning (
    charge_attempt_id bigint PRIMARY KEY REFERENCES charge_attempts (id),
    status            text NOT NULL DEFAULT 'retrying'
                      CHECK (status IN ('retrying', 'succeeded', 'gave_up', 'stopped')),
    retries_done      integer NOT NULL DEFAULT 0 CHECK (retries_done >= 0),
    started_at        timestamptz NOT NULL,
    next_retry_at     timestamptz,
    claimed_until     timestamptz,
    last_attempt_id   bigint REFERENCES charge_attempts (id),
    -- Why it ended, in words for the admin.
    outcome           text,
    finished_at       timestamptz,
    CHECK ((status = 'retrying') = (next_retry_at IS NOT NULL)),
    CHECK ((status = 'retrying') = (finished_at IS NULL))
);
CREATE INDEX dunning_due_idx ON dunning (next_retry_at) WHERE status = 'retrying';

-- Reminders are notifications of their own kinds.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('payment_failed', 'payment_reminder', 'card_expiring'));

-- One expiry reminder per card and expiry: the key holds however often, and
-- on however many replicas, the reminder job runs. A card the account
-- updater gives a new expiry is a new key.
CREATE TABLE card_expiry_reminders (
    payment_method_id text NOT NULL REFERENCES payment_methods (id),
    exp_month         integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year          integer NOT NULL,
    customer_id       bigint NOT NULL REFERENCES customers (id),
    notification_id   bigint REFERENCES notifications (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_method_id, exp_month, exp_year)
);

-- A setup session opened from a card expiry reminder: the card saved
-- through it becomes the customer's default, here and on Stripe.
ALTER TABLE checkout_sessions ADD COLUMN makes_default boolean NOT NULL DEFAULT false;

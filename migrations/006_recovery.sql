-- A payment that arrived for a charge attempt already paid through another
-- PaymentIntent (a second recovery session paid, or a recovery paid after
-- the charge itself succeeded). It is written in the same transaction that
-- records the payment, so it cannot be lost, and refunded on Stripe after
-- the commit; a row still 'pending' is retried by the next return page,
-- webhook or sync.
CREATE TABLE recovery_refunds (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charge_attempt_id bigint NOT NULL REFERENCES charge_attempts (id),
    session_id        text,
    payment_intent_id text NOT NULL UNIQUE CHECK (payment_intent_id ~ '^pi_[A-Za-z0-9]+$'),
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'refunded')),
    refund_id         text,
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    refunded_at       timestamptz,
    CHECK ((status = 'refunded') = (refunded_at IS NOT NULL))
);
CREATE INDEX recovery_refunds_attempt_idx ON recovery_refunds (charge_attempt_id);
CREATE INDEX recovery_refunds_session_idx ON recovery_refunds (session_id);
CREATE INDEX recovery_refunds_pending_idx ON recovery_refunds (created_at) WHERE status = 'pending';

-- The outbox's lease: a sender claims a message until this time, sends it
-- with no transaction open, then records the result. A sender that dies
-- mid-send leaves the lease to run out, and the message is sent again later;
-- two senders never hold one message at once.
ALTER TABLE notifications ADD COLUMN claimed_until timestamptz;

-- The admin's payments list (every charge attempt, newest first, by status
-- and date, with totals) and events list (the ledger, failed events first, by type and
-- state) page by keyset: each filter they offer has an index in the list's
-- order, so a page deep in 100,000 rows reads a page's worth of rows.
CREATE INDEX charge_attempts_created_idx ON charge_attempts (created_at, id);
CREATE INDEX charge_attempts_status_created_idx ON charge_attempts (status, created_at, id);

-- What refunds made here have returned of an attempt's payment (the sum of
-- its succeeded charge_refunds), kept by a trigger: an attempt's refunded
-- amount is then greatest(refunded_on_stripe, refunded_here), read from
-- its own row.
ALTER TABLE charge_attempts ADD COLUMN refunded_here bigint NOT NULL DEFAULT 0 CHECK (refunded_here >= 0);
UPDATE charge_attempts ca SET refunded_here = r.amount
FROM (SELECT charge_attempt_id, sum(amount) AS amount FROM charge_refunds WHERE status = 'succeeded' GROUP BY 1) r
WHERE r.charge_attempt_id = ca.id;

CREATE FUNCTION refresh_refunded_here() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    attempt bigint := CASE TG_OP WHEN 'DELETE' THEN OLD.charge_attempt_id ELSE NEW.charge_attempt_id END;
BEGIN
    UPDATE charge_attempts SET refunded_here = (SELECT coalesce(sum(amount), 0) FROM charge_refunds
                                                WHERE charge_attempt_id = attempt AND status = 'succeeded')
    WHERE id = attempt;
    RETURN NULL;
END $$;
CREATE TRIGGER charge_refunds_refunded_here AFTER INSERT OR DELETE OR UPDATE OF status, amount ON charge_refunds
    FOR EACH ROW EXECUTE FUNCTION refresh_refunded_here();

-- The payments list's totals, per day (UTC), status and currency, kept by a
-- trigger: the totals of any range of days sum a few rows per day instead of
-- reading every attempt of the range on each page view.
CREATE TABLE payment_day_totals (
    day        date NOT NULL,
    status     text NOT NULL,
    currency   text NOT NULL,
    n          bigint NOT NULL CHECK (n >= 0),
    amount     bigint NOT NULL CHECK (amount >= 0),
    -- What was refunded of these attempts, and how many have a refund.
    refunded   bigint NOT NULL CHECK (refunded >= 0),
    refunded_n bigint NOT NULL CHECK (refunded_n >= 0),
    PRIMARY KEY (day, status, currency)
);
INSERT INTO payment_day_totals (day, status, currency, n, amount, refunded, refunded_n)
SELECT (created_at AT TIME ZONE 'UTC')::date, status, currency, count(*), sum(amount),
       sum(greatest(refunded_on_stripe, refunded_here)), count(*) FILTER (WHERE greatest(refunded_on_stripe, refunded_here) > 0)
FROM charge_attempts GROUP BY 1, 2, 3;

-- count_payment adds an attempt to its counter row, or with sign -1 takes
-- it off (an UPDATE: the row exists, and a negative row would fail the
-- checks before ON CONFLICT could merge it).
CREATE FUNCTION count_payment(a charge_attempts, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    on_day date := (a.created_at AT TIME ZONE 'UTC')::date;
    refund bigint := greatest(a.refunded_on_stripe, a.refunded_here);
BEGIN
    IF sign > 0 THEN
        INSERT INTO payment_day_totals AS t (day, status, currency, n, amount, refunded, refunded_n)
        VALUES (on_day, a.status, a.currency, 1, a.amount, refund, (refund > 0)::int)
        ON CONFLICT ON CONSTRAINT payment_day_totals_pkey DO UPDATE SET
            n = t.n + 1, amount = t.amount + excluded.amount,
            refunded = t.refunded + excluded.refunded, refunded_n = t.refunded_n + excluded.refunded_n;
    ELSE
        UPDATE payment_day_totals t SET n = t.n - 1, amount = t.amount - a.amount,
            refunded = t.refunded - refund, refunded_n = t.refunded_n - (refund > 0)::int
        WHERE t.day = on_day AND t.status = a.status AND t.currency = a.currency;
    END IF;
END $$;

-- The old row's counts come off and the new row's go on, the lower key
-- first, so that two transactions moving attempts between the same days and
-- statuses lock the counter rows in one order.
CREATE FUNCTION count_payments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.status, NEW.currency)
                          < ((OLD.created_at AT TIME ZONE 'UTC')::date, OLD.status, OLD.currency) THEN
        PERFORM count_payment(NEW, 1);
        PERFORM count_payment(OLD, -1);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM count_payment(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM count_payment(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER charge_attempts_count AFTER INSERT OR DELETE ON charge_attempts
    FOR EACH ROW EXECUTE FUNCTION count_payments();
CREATE TRIGGER charge_attempts_count_update AFTER UPDATE OF status, amount, currency, created_at, refunded_on_stripe, refunded_here
    ON charge_attempts FOR EACH ROW
    WHEN ((OLD.status, OLD.amount, OLD.currency, OLD.created_at, greatest(OLD.refunded_on_stripe, OLD.refunded_here))
          IS DISTINCT FROM (NEW.status, NEW.amount, NEW.currency, NEW.created_at, greatest(NEW.refunded_on_stripe, NEW.refunded_here)))
    EXECUTE FUNCTION count_payments();

-- An event's state as the events list sorts it: 2 failed (tried, not
-- applied), 1 pending (not tried yet), 0 applied. The list's queries spell
-- the same expression (postgres.eventStateRank), or these indexes go unused.
CREATE INDEX stripe_events_state_idx ON stripe_events
    ((CASE WHEN applied_at IS NOT NULL THEN 0 WHEN last_error IS NOT NULL THEN 2 ELSE 1 END), received_at, id);
CREATE INDEX stripe_events_type_state_idx ON stripe_events
    (type, (CASE WHEN applied_at IS NOT NULL THEN 0 WHEN last_error IS NOT NULL THEN 2 ELSE 1 END), received_at, id);

-- A customer asks for a link to manage their saved cards; the link comes
-- by email, as the other customer messages do.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('payment_failed', 'payment_reminder', 'card_expiring', 'order_confirmation', 'order_receipt', 'manage_cards'));

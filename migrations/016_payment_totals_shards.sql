-- The payments list's counters (migration 013) were one row per day, status
-- and currency, so every charge of a batch changed the same two rows, and
-- the charge workers queued on those rows' locks until each commit: a batch
-- ran at 0.88 of the Stripe rate limit with the counters, 0.96 without.
--
-- An attempt now counts in one of 16 rows of its key, chosen by its id, so
-- its changes of status land in one row, taken in key order as before. A
-- key's totals are the sum of its rows. The fold_payment_totals schedule
-- (postgres.FoldPaymentTotals) adds the rows of past days into their
-- shard 0, so that a range of days still sums about one row per key and
-- day; after a fold an attempt's later change lands in its own shard
-- again, so a row alone may be negative, and only a key's sum is checked.
ALTER TABLE payment_day_totals
    DROP CONSTRAINT payment_day_totals_n_check,
    DROP CONSTRAINT payment_day_totals_amount_check,
    DROP CONSTRAINT payment_day_totals_refunded_check,
    DROP CONSTRAINT payment_day_totals_refunded_n_check,
    ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15),
    DROP CONSTRAINT payment_day_totals_pkey,
    ADD CONSTRAINT payment_day_totals_pkey PRIMARY KEY (day, status, currency, shard);

CREATE OR REPLACE FUNCTION count_payment(a charge_attempts, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    on_day date := (a.created_at AT TIME ZONE 'UTC')::date;
    refund bigint := greatest(a.refunded_on_stripe, a.refunded_here);
BEGIN
    INSERT INTO payment_day_totals AS t (day, status, currency, shard, n, amount, refunded, refunded_n)
    VALUES (on_day, a.status, a.currency, a.id % 16, sign, sign * a.amount, sign * refund, sign * (refund > 0)::int)
    ON CONFLICT ON CONSTRAINT payment_day_totals_pkey DO UPDATE SET
        n = t.n + excluded.n, amount = t.amount + excluded.amount,
        refunded = t.refunded + excluded.refunded, refunded_n = t.refunded_n + excluded.refunded_n;
END $$;

-- A card's failing flag is written only when it changes: rewriting it on
-- every charge locked the card's row and left a dead row version each time.
CREATE OR REPLACE FUNCTION refresh_payment_method_failing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE payment_methods pm
    SET failing = f.failing
    FROM (SELECT coalesce((SELECT ca.status IN ('declined', 'authentication_required') FROM charge_attempts ca
                           WHERE ca.payment_method_id = NEW.payment_method_id
                           ORDER BY ca.created_at DESC, ca.id DESC LIMIT 1), false) AS failing) f
    WHERE pm.id = NEW.payment_method_id AND pm.failing IS DISTINCT FROM f.failing;
    RETURN NULL;
END $$;

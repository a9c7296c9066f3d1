-- The schedule of Stripe requests that every replica shares, so that
-- together they stay under STRIPE_RATE_LIMIT: one row per limit, holding the
-- earliest time the next request may leave. Each request moves it on by one
-- interval (1/rate) under the row's lock, in one statement on the database's
-- clock, and waits for the slot it took. Unlogged: it is a moment of
-- schedule, not a record; a crash that empties it lets the next request go
-- at once, and the schedule starts again from there.
CREATE UNLOGGED TABLE rate_limits (
    name    text PRIMARY KEY,
    next_at timestamptz NOT NULL
);

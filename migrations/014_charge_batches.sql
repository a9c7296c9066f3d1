-- Batches of orders charged in the background: staff (or an operator)
-- picks placed orders, confirms, and one job per order charges it. The
-- batch, its orders and their jobs are written in one transaction.
CREATE TABLE charge_batches (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- One per confirmation form: a double submit starts one batch.
    key           text NOT NULL UNIQUE CHECK (length(key) BETWEEN 16 AND 255),
    -- Who started it: every charge of the batch is made, and audited, in their name.
    actor         text NOT NULL CHECK (actor <> ''),
    actor_address text NOT NULL DEFAULT '',
    actor_via     text NOT NULL DEFAULT '',
    staff_user_id bigint REFERENCES staff_users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The orders of a batch, each with what its job made of it: NULL while
-- left to do, then charged, failed (declined: the order's recovery path
-- follows) or skipped (no longer chargeable, or its outcome still unknown
-- when the job gave up; note says which).
CREATE TABLE charge_batch_orders (
    batch_id    bigint NOT NULL REFERENCES charge_batches (id),
    order_id    bigint NOT NULL REFERENCES orders (id),
    outcome     text CHECK (outcome IN ('charged', 'failed', 'skipped')),
    note        text NOT NULL DEFAULT '',
    finished_at timestamptz,
    PRIMARY KEY (batch_id, order_id),
    CHECK ((outcome IS NULL) = (finished_at IS NULL))
);
CREATE INDEX charge_batch_orders_order_idx ON charge_batch_orders (order_id);

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

-- The orders of a batch. What became of each is its order's status (paid,
-- payment_failed, ...), so charged and failed are counted from the orders,
-- with no write per order; only an order its job skipped is marked here (no
-- longer chargeable by the time the job ran, or its outcome still unknown
-- when the job gave up), with why.
CREATE TABLE charge_batch_orders (
    batch_id   bigint NOT NULL REFERENCES charge_batches (id),
    order_id   bigint NOT NULL REFERENCES orders (id),
    skipped_at timestamptz,
    note       text NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, order_id)
);
CREATE INDEX charge_batch_orders_order_idx ON charge_batch_orders (order_id);

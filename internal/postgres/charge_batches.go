package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/staff"
)

// batchOrdersSQL selects a batch's orders: the picked ones ($1), or with
// none picked every placed one numbered $2 or lower (0: all).
const batchOrdersSQL = `SELECT id, status, currency, total FROM orders
	WHERE CASE WHEN cardinality($1::bigint[]) > 0 THEN id = ANY($1) ELSE status = 'placed' AND ($2 = 0 OR id <= $2) END
	ORDER BY id`

func scanBatchOrders(rows pgx.Rows) ([]shop.BatchOrder, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (shop.BatchOrder, error) {
		var o shop.BatchOrder
		err := row.Scan(&o.ID, &o.Status, &o.Total.Currency, &o.Total.Amount)
		return o, err
	})
}

// BatchOrders returns the orders of a selection that exist.
func (db *DB) BatchOrders(ctx context.Context, sel shop.BatchSelection) ([]shop.BatchOrder, error) {
	rows, err := db.pool.Query(ctx, batchOrdersSQL, picked(sel), sel.Through)
	if err != nil {
		return nil, fmt.Errorf("batch orders: %w", err)
	}
	orders, err := scanBatchOrders(rows)
	if err != nil {
		return nil, fmt.Errorf("batch orders: %w", err)
	}
	return orders, nil
}

func picked(sel shop.BatchSelection) []int64 {
	if sel.AllPlaced {
		return []int64{}
	}
	return sel.OrderIDs
}

// chargeJobStates are the states in which an order's charge job keeps
// another from being inserted: every unfinished one. A finished job does
// not, so an order put back to placed (its card was detached, then
// replaced) can be charged by a later batch.
var chargeJobStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// CreateChargeBatch locks the selection's orders, checks them, and writes
// the batch, its orders and their jobs in one transaction; a key used
// before returns that batch.
func (db *DB) CreateChargeBatch(ctx context.Context, b shop.ChargeBatch, sel shop.BatchSelection, check func([]shop.BatchOrder) error) (shop.ChargeBatch, error) {
	var id int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, batchOrdersSQL+` FOR UPDATE`, picked(sel), sel.Through)
		if err != nil {
			return err
		}
		orders, err := scanBatchOrders(rows)
		if err != nil {
			return err
		}
		if err := check(orders); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO charge_batches (key, actor, actor_address, actor_via, staff_user_id) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (key) DO NOTHING RETURNING id`,
			b.Key, b.Actor.Name, b.Actor.Address, b.Actor.Via, nullID(b.Actor.UserID)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			// The same confirmation, submitted while this one was checking.
			return tx.QueryRow(ctx, `SELECT id FROM charge_batches WHERE key = $1`, b.Key).Scan(&id)
		}
		if err != nil {
			return err
		}
		enqueued, err := db.enqueueCharges(ctx, tx, id, orders)
		if err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, batchAudit(id, b.Actor, enqueued))
		return err
	})
	if err != nil {
		return shop.ChargeBatch{}, fmt.Errorf("create charge batch: %w", err)
	}
	return db.ChargeBatch(ctx, id)
}

// batchAudit is the audit row of a batch's start, written with it: who,
// how many orders and what they come to.
func batchAudit(id int64, actor staff.Actor, orders []shop.BatchOrder) staff.Entry {
	totals := map[string]int64{}
	for _, o := range orders {
		totals[o.Total.Currency] += o.Total.Amount
	}
	e := staff.Entry{Actor: actor.Name, ActorAddress: actor.Address, Action: shop.ActionOrderChargeBatch,
		Target: fmt.Sprintf("charge batch %d", id), Detail: fmt.Sprintf("%d orders", len(orders))}
	for _, currency := range slices.Sorted(maps.Keys(totals)) {
		m := billing.Money{Amount: totals[currency], Currency: currency}
		e.Detail += ", " + m.Display()
		if len(totals) == 1 {
			e.Amount, e.Currency = m.Amount, m.Currency
		}
	}
	return e
}

// enqueueCharges inserts one charge job per order, and the batch's orders
// whose job went in; it returns those.
func (db *DB) enqueueCharges(ctx context.Context, tx pgx.Tx, batchID int64, orders []shop.BatchOrder) ([]shop.BatchOrder, error) {
	opts := &river.InsertOpts{Queue: shop.QueueCharges, MaxAttempts: shop.ChargeJobMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: chargeJobStates}}
	params := make([]river.InsertManyParams, len(orders))
	for i, o := range orders {
		params[i] = river.InsertManyParams{Args: shop.ChargeOrderArgs{BatchID: batchID, OrderID: o.ID}, InsertOpts: opts}
	}
	results, err := db.jobs.InsertManyTx(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("enqueue charges of batch %d: %w", batchID, err)
	}
	var enqueued []shop.BatchOrder
	ids := make([]int64, 0, len(orders))
	for i, r := range results {
		if !r.UniqueSkippedAsDuplicate {
			enqueued = append(enqueued, orders[i])
			ids = append(ids, orders[i].ID)
		}
	}
	if len(ids) == 0 {
		return nil, shop.ErrBatchInFlight
	}
	_, err = tx.Exec(ctx, `INSERT INTO charge_batch_orders (batch_id, order_id) SELECT $1, unnest($2::bigint[])`, batchID, ids)
	return enqueued, err
}

// chargeBatchColumns count a batch's orders by their status: paid (or
// refunded since) is charged, payment_failed failed, one its job skipped
// and not paid or failed since is skipped, the rest is left.
const chargeBatchColumns = `b.id, b.key, b.actor, b.actor_address, b.actor_via, coalesce(b.staff_user_id, 0), b.created_at,
	count(bo.order_id), count(*) FILTER (WHERE o.status IN ('paid', 'partially_refunded', 'refunded')),
	count(*) FILTER (WHERE o.status = 'payment_failed'),
	count(*) FILTER (WHERE bo.skipped_at IS NOT NULL AND o.status NOT IN ('paid', 'partially_refunded', 'refunded', 'payment_failed'))`

const chargeBatchFrom = ` FROM charge_batches b LEFT JOIN charge_batch_orders bo ON bo.batch_id = b.id LEFT JOIN orders o ON o.id = bo.order_id `

// chargeBatches reads batches with their progress and totals.
func (db *DB) chargeBatches(ctx context.Context, where string, args ...any) ([]shop.ChargeBatch, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+chargeBatchColumns+chargeBatchFrom+where, args...)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (shop.ChargeBatch, error) {
		var b shop.ChargeBatch
		err := row.Scan(&b.ID, &b.Key, &b.Actor.Name, &b.Actor.Address, &b.Actor.Via, &b.Actor.UserID, &b.CreatedAt,
			&b.Orders, &b.Charged, &b.Failed, &b.Skipped)
		return b, err
	})
	if err != nil || len(list) == 0 {
		return list, err
	}
	byID := map[int64]*shop.ChargeBatch{}
	ids := make([]int64, len(list))
	for i := range list {
		byID[list[i].ID], ids[i] = &list[i], list[i].ID
	}
	rows, err = db.pool.Query(ctx, `
		SELECT bo.batch_id, o.currency, sum(o.total) FROM charge_batch_orders bo JOIN orders o ON o.id = bo.order_id
		WHERE bo.batch_id = ANY($1) GROUP BY bo.batch_id, o.currency ORDER BY 3 DESC, 2`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			m  billing.Money
		)
		if err := rows.Scan(&id, &m.Currency, &m.Amount); err != nil {
			return nil, err
		}
		byID[id].Totals = append(byID[id].Totals, m)
	}
	return list, rows.Err()
}

// ChargeBatch returns one batch with its progress.
func (db *DB) ChargeBatch(ctx context.Context, id int64) (shop.ChargeBatch, error) {
	return db.oneChargeBatch(ctx, fmt.Sprintf("charge batch %d", id), `WHERE b.id = $1 GROUP BY b.id`, id)
}

// ChargeBatchOfKey returns the batch a confirmation's key started.
func (db *DB) ChargeBatchOfKey(ctx context.Context, key string) (shop.ChargeBatch, error) {
	return db.oneChargeBatch(ctx, "charge batch of key", `WHERE b.key = $1 GROUP BY b.id`, key)
}

func (db *DB) oneChargeBatch(ctx context.Context, what, where string, args ...any) (shop.ChargeBatch, error) {
	list, err := db.chargeBatches(ctx, where, args...)
	if err != nil {
		return shop.ChargeBatch{}, fmt.Errorf("%s: %w", what, err)
	}
	if len(list) == 0 {
		return shop.ChargeBatch{}, fmt.Errorf("%s: %w", what, billing.ErrNotFound)
	}
	return list[0], nil
}

// ChargeBatches returns the newest batches with their progress.
func (db *DB) ChargeBatches(ctx context.Context, limit int) ([]shop.ChargeBatch, error) {
	list, err := db.chargeBatches(ctx, `GROUP BY b.id ORDER BY b.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("charge batches: %w", err)
	}
	return list, nil
}

// BatchActor returns who started a batch.
func (db *DB) BatchActor(ctx context.Context, batchID int64) (staff.Actor, error) {
	var a staff.Actor
	err := db.pool.QueryRow(ctx, `SELECT actor, actor_address, actor_via, coalesce(staff_user_id, 0) FROM charge_batches WHERE id = $1`, batchID).
		Scan(&a.Name, &a.Address, &a.Via, &a.UserID)
	if errors.Is(err, pgx.ErrNoRows) {
		err = billing.ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("actor of charge batch %d: %w", batchID, err)
	}
	return a, nil
}

// SkipBatchOrder marks an order its batch's job skipped, saying why; the
// first mark stands.
func (db *DB) SkipBatchOrder(ctx context.Context, batchID, orderID int64, note string) error {
	_, err := db.pool.Exec(ctx, `UPDATE charge_batch_orders SET skipped_at = now(), note = $3
		WHERE batch_id = $1 AND order_id = $2 AND skipped_at IS NULL`, batchID, orderID, note)
	if err != nil {
		return fmt.Errorf("skip order %d of charge batch %d: %w", orderID, batchID, err)
	}
	return nil
}

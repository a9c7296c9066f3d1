package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

const orderColumns = `o.id, o.email, coalesce(o.customer_id, 0), o.status, o.currency, o.total, o.checkout_key,
	coalesce(o.cart_id, 0), coalesce(o.setup_session_id, ''), coalesce(CASE WHEN cs.status = 'open' THEN cs.url END, ''),
	coalesce(o.payment_method_id, ''), coalesce(o.charge_key, ''), o.created_at, o.placed_at, o.paid_at, o.canceled_at,
	pm.type, pm.brand, pm.last4, pm.exp_month, pm.exp_year, pm.status, pm.customer_id`

const orderFrom = ` FROM orders o LEFT JOIN checkout_sessions cs ON cs.id = o.setup_session_id
	LEFT JOIN payment_methods pm ON pm.id = o.payment_method_id `

// scanOrder reads orderColumns, then extra, from row.
func scanOrder(row pgx.Row, extra ...any) (shop.Order, error) {
	var (
		o                              shop.Order
		placedAt, paidAt, canceledAt   *time.Time
		pmType, brand, last4, pmStatus *string
		expMonth, expYear              *int
		pmCustomer                     *int64
	)
	err := row.Scan(append([]any{&o.ID, &o.Email, &o.CustomerID, &o.Status, &o.Total.Currency, &o.Total.Amount, &o.CheckoutKey,
		&o.CartID, &o.SetupSessionID, &o.SessionURL, &o.PaymentMethodID, &o.ChargeKey, &o.CreatedAt, &placedAt, &paidAt, &canceledAt,
		&pmType, &brand, &last4, &expMonth, &expYear, &pmStatus, &pmCustomer}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, billing.ErrNotFound
	}
	if err != nil {
		return o, err
	}
	o.PlacedAt, o.PaidAt, o.CanceledAt = deref(placedAt), deref(paidAt), deref(canceledAt)
	if pmType != nil {
		o.Card = &billing.PaymentMethod{ID: o.PaymentMethodID, Type: *pmType, Brand: deref(brand), Last4: deref(last4),
			ExpMonth: deref(expMonth), ExpYear: deref(expYear), Status: deref(pmStatus), CustomerID: deref(pmCustomer)}
	}
	return o, nil
}

// orderIn reads an order and its lines in one round trip: a charge reads
// its order several times, and each trip costs both processes a syscall.
func orderIn(ctx context.Context, q querier, id int64, lock bool) (shop.Order, error) {
	// Four aggregates over the same rows in one order: arrays of one length.
	sql := `SELECT ` + orderColumns + `, l.products, l.names, l.unit_amounts, l.quantities` + orderFrom + `
		CROSS JOIN LATERAL (SELECT coalesce(array_agg(product_id ORDER BY position), '{}') AS products,
		                           coalesce(array_agg(name ORDER BY position), '{}') AS names,
		                           coalesce(array_agg(unit_amount ORDER BY position), '{}') AS unit_amounts,
		                           coalesce(array_agg(quantity ORDER BY position), '{}') AS quantities
		                    FROM order_lines WHERE order_id = o.id) l
		WHERE o.id = $1`
	if lock {
		sql += ` FOR UPDATE OF o`
	}
	var (
		products, unitAmounts []int64
		names                 []string
		quantities            []int
	)
	o, err := scanOrder(q.QueryRow(ctx, sql, id), &products, &names, &unitAmounts, &quantities)
	if err != nil {
		return o, err
	}
	for i := range products {
		o.Lines = append(o.Lines, shop.OrderLine{ProductID: products[i], Name: names[i], UnitAmount: unitAmounts[i], Quantity: quantities[i]})
	}
	return o, nil
}

// Order returns an order with its lines and card.
func (db *DB) Order(ctx context.Context, id int64) (shop.Order, error) {
	o, err := orderIn(ctx, db.pool, id, false)
	if err != nil {
		return o, fmt.Errorf("order %d: %w", id, err)
	}
	return o, nil
}

// CreateOrder commits an order and its lines, or returns the order its
// checkout key made before.
func (db *DB) CreateOrder(ctx context.Context, o shop.Order) (shop.Order, bool, error) {
	var (
		id      int64
		created bool
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO orders (email, status, currency, total, checkout_key, cart_id) VALUES ($1, 'awaiting_card', $2, $3, $4, $5)
			ON CONFLICT (checkout_key) DO NOTHING RETURNING id`,
			o.Email, o.Total.Currency, o.Total.Amount, o.CheckoutKey, nullID(o.CartID)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return tx.QueryRow(ctx, `SELECT id FROM orders WHERE checkout_key = $1`, o.CheckoutKey).Scan(&id)
		}
		if err != nil {
			return err
		}
		created = true
		batch := &pgx.Batch{}
		for i, l := range o.Lines {
			batch.Queue(`INSERT INTO order_lines (order_id, position, product_id, name, unit_amount, quantity) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, i, l.ProductID, l.Name, l.UnitAmount, l.Quantity)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return shop.Order{}, false, fmt.Errorf("create order: %w", err)
	}
	saved, err := db.Order(ctx, id)
	return saved, created, err
}

// SetOrderSession makes a setup session the order's unless it has one
// still usable (a concurrent checkout of the same form got there first).
func (db *DB) SetOrderSession(ctx context.Context, orderID int64, sessionID string) (shop.Order, error) {
	_, err := db.pool.Exec(ctx, `
		UPDATE orders SET setup_session_id = $2, updated_at = now()
		WHERE id = $1 AND status = 'awaiting_card' AND (setup_session_id IS NULL OR
		      EXISTS (SELECT 1 FROM checkout_sessions WHERE id = orders.setup_session_id AND status = 'expired'))`, orderID, sessionID)
	if err != nil {
		return shop.Order{}, fmt.Errorf("set session of order %d: %w", orderID, err)
	}
	return db.Order(ctx, orderID)
}

// OrderOfSession returns the order a setup session saves a card for.
func (db *DB) OrderOfSession(ctx context.Context, sessionID string) (shop.Order, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT id FROM orders WHERE setup_session_id = $1`, sessionID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return shop.Order{}, fmt.Errorf("order of session %s: %w", sessionID, billing.ErrNotFound)
	}
	if err != nil {
		return shop.Order{}, fmt.Errorf("order of session %s: %w", sessionID, err)
	}
	return db.Order(ctx, id)
}

// orderCharges joins an order's charges to their attempts.
const orderCharges = ` FROM order_charges oc JOIN charge_attempts ca ON ca.idempotency_key = oc.idempotency_key `

// OrdersOf returns the orders a session or PaymentIntent concerns.
func (db *DB) OrdersOf(ctx context.Context, stripeID string) ([]int64, error) {
	return db.queryIDs(ctx, "orders of "+stripeID, `
		SELECT id FROM orders WHERE setup_session_id = $1
		UNION SELECT oc.order_id`+orderCharges+`WHERE ca.recovery_session_id = $1 OR ca.payment_intent_id = $1
		UNION SELECT oc.order_id`+orderCharges+`WHERE ca.recovered_payment_intent_id = $1`, stripeID)
}

// queryIDs runs a query of one bigint column; what names it in errors.
func (db *DB) queryIDs(ctx context.Context, what, sql string, args ...any) ([]int64, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, nil
}

// OrderOfAttempt returns the order a charge attempt was for.
func (db *DB) OrderOfAttempt(ctx context.Context, attemptID int64) (int64, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT oc.order_id`+orderCharges+`WHERE ca.id = $1`, attemptID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("order of attempt %d: %w", attemptID, billing.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("order of attempt %d: %w", attemptID, err)
	}
	return id, nil
}

// OrderAttempts returns an order's charge attempts, newest first.
func (db *DB) OrderAttempts(ctx context.Context, orderID int64) ([]int64, error) {
	return db.queryIDs(ctx, fmt.Sprintf("attempts of order %d", orderID),
		`SELECT ca.id`+orderCharges+`WHERE oc.order_id = $1 ORDER BY ca.created_at DESC, ca.id DESC`, orderID)
}

// ListOrders returns a page of orders, newest first: a status, an order
// number or the start of an email narrows it.
func (db *DB) ListOrders(ctx context.Context, q shop.OrderQuery) ([]shop.Order, error) {
	var number int64
	search := q.Search
	if n, err := strconv.ParseInt(strings.TrimPrefix(search, "#"), 10, 64); err == nil && n > 0 {
		number, search = n, ""
	}
	rows, err := db.pool.Query(ctx, `SELECT `+orderColumns+orderFrom+`
		WHERE ($1 = '' OR o.status = $1) AND ($2 = 0 OR o.id < $2) AND ($3 = 0 OR o.id = $3)
		  AND ($4 = '' OR o.email LIKE $4 || '%')
		ORDER BY o.id DESC LIMIT $5`, string(q.Status), q.Before, number, likePrefix(search), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (shop.Order, error) { return scanOrder(row) })
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	return list, nil
}

// likePrefix escapes LIKE's wildcards in a typed prefix.
func likePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// OrderTotals counts the orders per status and sums them per currency.
func (db *DB) OrderTotals(ctx context.Context) ([]shop.StatusTotal, error) {
	rows, err := db.pool.Query(ctx, `SELECT status, currency, count(*), sum(total) FROM orders GROUP BY status, currency ORDER BY status, currency`)
	if err != nil {
		return nil, fmt.Errorf("order totals: %w", err)
	}
	defer rows.Close()
	byStatus := map[shop.OrderStatus]*shop.StatusTotal{}
	for rows.Next() {
		var (
			status shop.OrderStatus
			m      billing.Money
			n      int
		)
		if err := rows.Scan(&status, &m.Currency, &n, &m.Amount); err != nil {
			return nil, fmt.Errorf("order totals: %w", err)
		}
		t := byStatus[status]
		if t == nil {
			t = &shop.StatusTotal{Status: status}
			byStatus[status] = t
		}
		t.Count += n
		t.Totals = append(t.Totals, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("order totals: %w", err)
	}
	out := make([]shop.StatusTotal, 0, len(shop.OrderStatuses))
	for _, st := range shop.OrderStatuses {
		t := byStatus[st]
		if t == nil {
			t = &shop.StatusTotal{Status: st}
		}
		out = append(out, *t)
	}
	return out, nil
}

// OrdersToSettle returns the orders whose status follows facts that may
// have changed: those awaiting a card, charging, failed, or paid.
func (db *DB) OrdersToSettle(ctx context.Context, limit int) ([]int64, error) {
	return db.queryIDs(ctx, "orders to settle", `SELECT id FROM orders
		WHERE status IN ('awaiting_card', 'charging', 'payment_failed', 'paid', 'partially_refunded') ORDER BY id DESC LIMIT $1`, limit)
}

// BeginCharge marks an order charging with its charge's key, and records
// the key among the order's charges, if check lets it.
func (db *DB) BeginCharge(ctx context.Context, orderID int64, key string, check func(shop.Order) error) (shop.Order, error) {
	var order shop.Order
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if order, err = orderIn(ctx, tx, orderID, true); err != nil {
			return err
		}
		if err := check(order); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(`UPDATE orders SET status = 'charging', charge_key = $2, updated_at = now() WHERE id = $1`, orderID, key)
		batch.Queue(`INSERT INTO order_charges (idempotency_key, order_id) VALUES ($1, $2)`, key, orderID)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		order.Status, order.ChargeKey = shop.Charging, key
		return nil
	})
	if err != nil {
		return order, fmt.Errorf("begin charge of order %d: %w", orderID, err)
	}
	return order, nil
}

// AbortCharge puts back an order whose charge never made an attempt:
// failed if an earlier charge of it failed, else placed.
func (db *DB) AbortCharge(ctx context.Context, orderID int64, key string) error {
	_, err := db.pool.Exec(ctx, `
		UPDATE orders SET updated_at = now(), status = CASE WHEN EXISTS (SELECT 1`+orderCharges+`WHERE oc.order_id = $1)
		    THEN 'payment_failed' ELSE 'placed' END
		WHERE id = $1 AND status = 'charging' AND charge_key = $2
		  AND NOT EXISTS (SELECT 1 FROM charge_attempts WHERE idempotency_key = $2)`, orderID, key)
	if err != nil {
		return fmt.Errorf("abort charge of order %d: %w", orderID, err)
	}
	return nil
}

// CancelOrder cancels an order still unpaid and not being charged.
func (db *DB) CancelOrder(ctx context.Context, orderID int64) (shop.Order, error) {
	_, err := db.pool.Exec(ctx, `UPDATE orders SET status = 'canceled', canceled_at = now(), updated_at = now()
		WHERE id = $1 AND status IN ('awaiting_card', 'placed', 'payment_failed')`, orderID)
	if err != nil {
		return shop.Order{}, fmt.Errorf("cancel order %d: %w", orderID, err)
	}
	return db.Order(ctx, orderID)
}

// SettleOrder locks an order, reads the facts its status follows from (the
// card its session saved, the attempt of its charge key with its refunds),
// and writes what decide makes of them: the status, the card and customer
// once placed, and the emails, in one transaction. A placed order's cart
// loses the lines it was made from. Most settles change nothing (a webhook
// after Stripe's answer was recorded, a page view), so the facts are read
// first without a lock, and only a change takes one: a lock is a write,
// and its commit a flush. Every writer of a fact settles after its commit,
// so an unlocked read that sees no change misses none.
func (db *DB) SettleOrder(ctx context.Context, orderID int64, decide func(shop.OrderFacts) shop.Settlement) (shop.Order, error) {
	f, err := orderFacts(ctx, db.pool, orderID, false)
	if err != nil {
		return shop.Order{}, fmt.Errorf("settle order %d: %w", orderID, err)
	}
	if decide(f).Status == f.Order.Status {
		return f.Order, nil
	}
	var unchanged *shop.Order
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		f, err := orderFacts(ctx, tx, orderID, true)
		if err != nil {
			return err
		}
		o := f.Order
		st := decide(f)
		if st.Status == o.Status {
			unchanged = &o // changed back meanwhile: as read under the lock
			return nil
		}
		var pmID string
		var customerID int64
		if st.Status == shop.Placed && f.SavedCard != nil {
			pmID, customerID = f.SavedCard.ID, f.SavedCard.CustomerID
		}
		if _, err := tx.Exec(ctx, `
			UPDATE orders SET status = $2, updated_at = now(),
			       payment_method_id = coalesce(nullif($3, ''), payment_method_id), customer_id = coalesce($4, customer_id),
			       placed_at = CASE WHEN $2 = 'placed' THEN coalesce(placed_at, now()) ELSE placed_at END,
			       paid_at = CASE WHEN $2 IN ('paid', 'partially_refunded', 'refunded') THEN coalesce(paid_at, now()) ELSE paid_at END,
			       canceled_at = CASE WHEN $2 = 'canceled' THEN coalesce(canceled_at, now()) ELSE canceled_at END
			WHERE id = $1`, orderID, st.Status, pmID, nullID(customerID)); err != nil {
			return err
		}
		if st.Status == shop.Placed && o.CartID != 0 {
			// Lines changed after checkout (another tab) stay in the cart.
			if _, err := tx.Exec(ctx, `DELETE FROM cart_lines WHERE cart_id = $1 AND updated_at <= $2`, o.CartID, o.CreatedAt); err != nil {
				return err
			}
		}
		for _, n := range st.Notify {
			if _, _, err := db.insertNotification(ctx, tx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return shop.Order{}, fmt.Errorf("settle order %d: %w", orderID, err)
	}
	if unchanged != nil {
		return *unchanged, nil
	}
	return db.Order(ctx, orderID)
}

// orderFacts reads an order, locked or not, and what its status follows from.
func orderFacts(ctx context.Context, q querier, orderID int64, lock bool) (shop.OrderFacts, error) {
	o, err := orderIn(ctx, q, orderID, lock)
	if err != nil {
		return shop.OrderFacts{}, err
	}
	f := shop.OrderFacts{Order: o}
	if o.Status == shop.AwaitingCard && o.SetupSessionID != "" {
		if f.SavedCard, f.SessionExpired, err = sessionCard(ctx, q, o.SetupSessionID); err != nil {
			return f, err
		}
	}
	if o.ChargeKey != "" {
		a, err := scanChargeAttempt(q.QueryRow(ctx, `SELECT `+chargeAttemptColumns+chargeAttemptFrom+`WHERE ca.idempotency_key = $1`, o.ChargeKey))
		if err == nil {
			f.Attempt = &a
		} else if !errors.Is(err, billing.ErrNotFound) {
			return f, err
		}
	}
	return f, nil
}

// sessionCard is the card a completed setup session saved, or nil, and
// whether the session expired instead.
func sessionCard(ctx context.Context, q querier, sessionID string) (*billing.PaymentMethod, bool, error) {
	var (
		status string
		pmID   *string
		pm     billing.PaymentMethod
		pmType *string
		brand  *string
		last4  *string
		month  *int
		year   *int
		custID *int64
		pmStat *string
	)
	err := q.QueryRow(ctx, `
		SELECT cs.status, pm.id, pm.type, pm.brand, pm.last4, pm.exp_month, pm.exp_year, pm.status, pm.customer_id
		FROM checkout_sessions cs LEFT JOIN setup_intents si ON si.id = cs.setup_intent_id
		LEFT JOIN payment_methods pm ON pm.id = si.payment_method_id AND pm.customer_id IS NOT NULL
		WHERE cs.id = $1`, sessionID).
		Scan(&status, &pmID, &pmType, &brand, &last4, &month, &year, &pmStat, &custID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if status != "complete" || pmID == nil {
		return nil, status == "expired", nil
	}
	pm.ID, pm.Type, pm.Status = *pmID, *pmType, *pmStat
	pm.Brand, pm.Last4, pm.ExpMonth, pm.ExpYear, pm.CustomerID = deref(brand), deref(last4), deref(month), deref(year), *custID
	return &pm, false, nil
}

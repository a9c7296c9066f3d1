package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storefront/storefront/internal/billing"
)

// maxErrorLength keeps a runaway error message from bloating the ledger.
const maxErrorLength = 2000

// RecordEvent stores a verified event unless its id is known, and tells
// whether it has been applied already. The insert is what makes the event
// durable before it is acknowledged.
func (db *DB) RecordEvent(ctx context.Context, e billing.Event) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO stripe_events (id, type, api_version, object_id, created_at, payload)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Type, e.APIVersion, e.ObjectID, e.Created, string(e.Payload))
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", e.ID, err)
	}
	if tag.RowsAffected() == 1 {
		return false, nil
	}
	// A duplicate: a statement of its own, so it sees a concurrent first insert once committed.
	var applied bool
	if err := db.pool.QueryRow(ctx, `SELECT applied_at IS NOT NULL FROM stripe_events WHERE id = $1`, e.ID).Scan(&applied); err != nil {
		return false, fmt.Errorf("record event %s: read duplicate: %w", e.ID, err)
	}
	return applied, nil
}

// RecordAppliedEvent stores a new event as applied together with its effect,
// in one round trip: a batch runs as one implicit transaction. For a
// duplicate the effect's statements run again and, being upserts and guarded
// updates, change nothing.
func (db *DB) RecordAppliedEvent(ctx context.Context, e billing.Event, effect billing.Effect) (bool, error) {
	if onlyExpiries(effect) {
		// The common case (an ignored type, an expired session) is one
		// statement, in a commit shared with concurrent deliveries.
		return db.recordAppliedEventShared(ctx, e, effect.ExpiredSessions)
	}
	batch := &pgx.Batch{}
	inserted := false
	batch.Queue(`
		INSERT INTO stripe_events (id, type, api_version, object_id, created_at, payload, applied_at, attempts, customer_id)
		VALUES ($1, $2, $3, $4, $5, $6, now(), 1, (SELECT id FROM customers WHERE $7 <> '' AND stripe_customer_id = $7))
		ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Type, e.APIVersion, e.ObjectID, e.Created, string(e.Payload), effect.StripeCustomerID).
		Exec(func(tag pgconn.CommandTag) error {
			inserted = tag.RowsAffected() == 1
			return nil
		})
	queueEffect(batch, effect)
	if err := db.pool.SendBatch(ctx, batch).Close(); err != nil {
		return false, fmt.Errorf("record applied event %s: %w", e.ID, err)
	}
	return inserted, nil
}

// onlyExpiries tells whether an effect writes nothing but session expiries
// (or nothing at all), which one statement can do. A field added to
// billing.Effect must be added here, or it would be dropped on this path.
func onlyExpiries(e billing.Effect) bool {
	return len(e.Customers) == 0 && len(e.PaymentMethods) == 0 && len(e.GonePaymentMethods) == 0 &&
		len(e.SetupIntents) == 0 && len(e.CompletedSessions) == 0 && len(e.ChargeUpdates) == 0 &&
		len(e.Recoveries) == 0 && len(e.Defaults) == 0 && len(e.DeletedCustomers) == 0
}

// EventFailed records why an event could not be applied.
func (db *DB) EventFailed(ctx context.Context, id, reason string) error {
	if len(reason) > maxErrorLength {
		reason = reason[:maxErrorLength]
	}
	_, err := db.pool.Exec(ctx, `
		UPDATE stripe_events SET attempts = attempts + 1, last_error = $2
		WHERE id = $1 AND applied_at IS NULL`, id, reason)
	if err != nil {
		return fmt.Errorf("record failure of event %s: %w", id, err)
	}
	return nil
}

// StoredEvent returns an event from the ledger.
func (db *DB) StoredEvent(ctx context.Context, id string) (billing.StoredEvent, error) {
	var (
		e         billing.StoredEvent
		payload   string
		appliedAt *time.Time
		lastError *string
	)
	err := db.pool.QueryRow(ctx, `
		SELECT id, type, api_version, object_id, created_at, payload, received_at, applied_at, attempts, last_error
		FROM stripe_events WHERE id = $1`, id).
		Scan(&e.ID, &e.Type, &e.APIVersion, &e.ObjectID, &e.Created, &payload, &e.ReceivedAt, &appliedAt, &e.Attempts, &lastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("event %s: %w", id, billing.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("event %s: %w", id, err)
	}
	e.Payload = []byte(payload)
	if appliedAt != nil {
		e.AppliedAt = *appliedAt
	}
	if lastError != nil {
		e.LastError = *lastError
	}
	return e, nil
}

// CustomerEvents returns a customer's most recent events.
func (db *DB) CustomerEvents(ctx context.Context, customerID int64, limit int) ([]billing.StoredEvent, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+eventRowColumns+` FROM stripe_events e LEFT JOIN customers c ON c.id = e.customer_id
		WHERE e.customer_id = $1 ORDER BY e.created_at DESC, e.received_at DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of customer %d: %w", customerID, err)
	}
	list, err := pgx.CollectRows(rows, scanEventRow)
	if err != nil {
		return nil, fmt.Errorf("events of customer %d: %w", customerID, err)
	}
	return list, nil
}

// eventRowColumns are an event's (alias e) without its payload, and its
// customer's email (alias c), as the lists show them.
const eventRowColumns = `e.id, e.type, e.api_version, e.object_id, e.created_at, e.received_at, e.applied_at, e.attempts,
	coalesce(e.last_error, ''), coalesce(e.customer_id, 0), coalesce(c.email, '')`

// scanEventRow reads eventRowColumns.
func scanEventRow(row pgx.CollectableRow) (billing.StoredEvent, error) {
	var (
		e         billing.StoredEvent
		appliedAt *time.Time
	)
	err := row.Scan(&e.ID, &e.Type, &e.APIVersion, &e.ObjectID, &e.Created, &e.ReceivedAt, &appliedAt, &e.Attempts, &e.LastError, &e.CustomerID, &e.CustomerEmail)
	e.AppliedAt = deref(appliedAt)
	return e, err
}

// LastEventReceivedAt is when the newest event arrived.
func (db *DB) LastEventReceivedAt(ctx context.Context) (time.Time, error) {
	var last *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT max(received_at) FROM stripe_events`).Scan(&last); err != nil {
		return time.Time{}, fmt.Errorf("last event: %w", err)
	}
	if last == nil {
		return time.Time{}, nil
	}
	return *last, nil
}

// eventStateRank is an event's state as the events list sorts it (failed
// 2, pending 1, applied 0): spelt exactly as migration 013's indexes, so
// that they serve the list. Its columns are the ledger's alone, so it needs
// no alias beside a join.
const eventStateRank = `(CASE WHEN applied_at IS NOT NULL THEN 0 WHEN last_error IS NOT NULL THEN 2 ELSE 1 END)`

// ListEvents returns a page of the ledger, failed events first, by keyset
// on (state, received_at, id); the WHERE clause has only the filters in use,
// so that each finds its index.
func (db *DB) ListEvents(ctx context.Context, q billing.EventQuery) ([]billing.StoredEvent, error) {
	var args queryArgs
	where := []string{"true"}
	if q.Type != "" {
		where = append(where, "e.type = "+args.add(q.Type))
	}
	if q.State != "" {
		where = append(where, eventStateRank+" = "+args.add(q.State.Rank()))
	}
	if q.BeforeID != "" {
		where = append(where, "("+eventStateRank+", e.received_at, e.id) < ("+args.add(q.BeforeState.Rank())+", "+args.add(q.Before)+", "+args.add(q.BeforeID)+")")
	}
	limit := args.add(q.Limit)
	rows, err := db.pool.Query(ctx, `
		SELECT `+eventRowColumns+` FROM stripe_events e LEFT JOIN customers c ON c.id = e.customer_id
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY `+eventStateRank+` DESC, e.received_at DESC, e.id DESC
		LIMIT `+limit, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanEventRow)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return list, nil
}

// EventCounts counts the failed and pending events, of one type or all:
// a range of the state index, never the whole ledger.
func (db *DB) EventCounts(ctx context.Context, eventType string) (map[billing.EventState]int, error) {
	args := []any{}
	where := eventStateRank + " > 0"
	if eventType != "" {
		args = append(args, eventType)
		where += " AND type = $1"
	}
	rows, err := db.pool.Query(ctx, `SELECT `+eventStateRank+`, count(*) FROM stripe_events WHERE `+where+` GROUP BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("event counts: %w", err)
	}
	defer rows.Close()
	counts := map[billing.EventState]int{}
	for rows.Next() {
		var rank, n int
		if err := rows.Scan(&rank, &n); err != nil {
			return nil, fmt.Errorf("event counts: %w", err)
		}
		for _, st := range billing.EventStates {
			if st.Rank() == rank {
				counts[st] = n
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event counts: %w", err)
	}
	return counts, nil
}

// EventTypes returns the distinct types in the ledger, sorted: a skip scan
// over the type index, one probe per type rather than a read of every event.
func (db *DB) EventTypes(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `
		WITH RECURSIVE t(type) AS (
			(SELECT type FROM stripe_events ORDER BY type LIMIT 1)
			UNION ALL
			SELECT (SELECT e.type FROM stripe_events e WHERE e.type > t.type ORDER BY e.type LIMIT 1) FROM t WHERE t.type IS NOT NULL
		)
		SELECT type FROM t WHERE type IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("event types: %w", err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("event types: %w", err)
	}
	return types, nil
}

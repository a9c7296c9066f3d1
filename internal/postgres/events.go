package postgres

import (
	"context"
	"errors"
	"fmt"
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
		SELECT id, type, api_version, object_id, created_at, received_at, applied_at, attempts, coalesce(last_error, '')
		FROM stripe_events WHERE customer_id = $1 ORDER BY created_at DESC, received_at DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of customer %d: %w", customerID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.StoredEvent, error) {
		var (
			e         billing.StoredEvent
			appliedAt *time.Time
		)
		err := row.Scan(&e.ID, &e.Type, &e.APIVersion, &e.ObjectID, &e.Created, &e.ReceivedAt, &appliedAt, &e.Attempts, &e.LastError)
		if appliedAt != nil {
			e.AppliedAt = *appliedAt
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events of customer %d: %w", customerID, err)
	}
	return list, nil
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

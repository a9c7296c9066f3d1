package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// Concurrent webhook deliveries share a commit. A commit is most of what an
// event costs the database (a WAL flush, a round trip, a wake-up of the
// backend), so events that arrive while another commit is under way are
// written together, by one statement and so in one transaction: each
// event's row and effect still commit atomically, and
// every caller returns only once its event is durable. Nothing waits to
// fill a batch; a batch is whatever queued up during the previous one.
const (
	// ingestWriters is how many shared commits may be under way at once.
	// One: while it commits, the next batch forms; a second writer splits
	// the queue into smaller batches that each pay for a commit (measured at
	// 8 clients: 9,500-10,000 events/s with one, 7,500 with two).
	ingestWriters = 1
	// maxIngestBatch bounds one transaction, and so the wait of its first event.
	maxIngestBatch = 64
	// ingestBatchTimeout bounds a shared commit, which no single request's
	// context may cancel: a hung connection must not stall every later event.
	ingestBatchTimeout = 10 * time.Second
)

// ingest queues events for shared commits. Its zero value is ready.
type ingest struct {
	mu      sync.Mutex
	queue   []*ingestEvent
	writers int
}

// ingestEvent is one event waiting for its commit.
type ingestEvent struct {
	event    billing.Event
	expired  []string
	inserted bool
	err      error
	// written is set, under ingest.mu, once its batch has been tried.
	written bool
	done    chan struct{}
}

// recordAppliedEventsStatement stores events as applied and expires their
// sessions in one statement, one row per event in each array, and returns
// the ids it inserted. A duplicate is skipped (ON CONFLICT DO NOTHING
// recognises an id inserted earlier by the same statement too); its update
// runs again and, being guarded, changes nothing. One statement for the
// whole batch: the database parses, plans and executes once, not per event.
const recordAppliedEventsStatement = `
	WITH event AS (
		INSERT INTO stripe_events (id, type, api_version, object_id, created_at, payload, applied_at, attempts)
		SELECT id, type, api_version, object_id, created_at, payload, now(), 1
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
		     AS e (id, type, api_version, object_id, created_at, payload)
		ON CONFLICT (id) DO NOTHING
		RETURNING id
	), expired AS (
		UPDATE checkout_sessions SET status = 'expired' WHERE id = ANY($7) AND status = 'open'
	)
	SELECT id FROM event`

// recordAppliedEvents writes events in one statement, and so one
// transaction, setting each one's inserted flag. Of two deliveries of one
// event in the same batch, the first is the one inserted.
func (db *DB) recordAppliedEvents(ctx context.Context, events []*ingestEvent) error {
	n := len(events)
	ids, types, versions, objects, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created := make([]time.Time, n)
	var expired []string
	for i, ev := range events {
		e := ev.event
		ids[i], types[i], versions[i], objects[i], created[i], payloads[i] = e.ID, e.Type, e.APIVersion, e.ObjectID, e.Created, string(e.Payload)
		expired = append(expired, ev.expired...)
	}
	rows, err := db.pool.Query(ctx, recordAppliedEventsStatement, ids, types, versions, objects, created, payloads, expired)
	if err != nil {
		return fmt.Errorf("record applied events: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("record applied events: %w", err)
	}
	fresh := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}
	for _, ev := range events {
		ev.inserted = fresh[ev.event.ID]
		delete(fresh, ev.event.ID)
	}
	return nil
}

// recordAppliedEventAlone writes one event in a transaction of its own.
func (db *DB) recordAppliedEventAlone(ctx context.Context, e billing.Event, expired []string) (bool, error) {
	ev := &ingestEvent{event: e, expired: expired}
	if err := db.recordAppliedEvents(ctx, []*ingestEvent{ev}); err != nil {
		return false, fmt.Errorf("record applied event %s: %w", e.ID, err)
	}
	return ev.inserted, nil
}

// recordAppliedEventShared writes an event in a commit shared with whatever
// other events are being received. If the shared commit fails, each of its
// events is written again alone, so that one bad event, a deadlock between
// two batches or a cancelled request fails nobody else.
func (db *DB) recordAppliedEventShared(ctx context.Context, e billing.Event, expired []string) (bool, error) {
	ev := &ingestEvent{event: e, expired: expired, done: make(chan struct{})}
	in := &db.ingest
	in.mu.Lock()
	in.queue = append(in.queue, ev)
	lead := in.writers < ingestWriters
	if lead {
		in.writers++
	}
	in.mu.Unlock()
	if lead {
		db.writeIngestQueue(ctx, ev)
	}
	select {
	case <-ev.done:
	case <-ctx.Done():
		// The event may still commit; unacknowledged, Stripe sends it again
		// and the ledger recognises it.
		return false, fmt.Errorf("record applied event %s: %w", e.ID, ctx.Err())
	}
	if ev.err != nil {
		return db.recordAppliedEventAlone(ctx, e, expired)
	}
	return ev.inserted, nil
}

// writeIngestQueue commits queued events, a batch at a time, until own has
// been written (or, with own nil, until the queue is empty). Events still
// queued then are handed to a writer of their own: a request does not keep
// writing other requests' events, which would hold its answer for as long
// as events keep coming.
func (db *DB) writeIngestQueue(ctx context.Context, own *ingestEvent) {
	in := &db.ingest
	for {
		in.mu.Lock()
		n := min(len(in.queue), maxIngestBatch)
		if n == 0 {
			in.writers--
			in.mu.Unlock()
			return
		}
		if own != nil && own.written {
			in.mu.Unlock()
			go db.writeIngestQueue(context.WithoutCancel(ctx), nil)
			return
		}
		batch := in.queue[:n:n]
		in.queue = in.queue[n:]
		in.mu.Unlock()
		db.writeIngestBatch(ctx, batch)
	}
}

// writeIngestBatch commits a batch of events in one statement.
func (db *DB) writeIngestBatch(ctx context.Context, events []*ingestEvent) {
	// The writer's own request may end before the others': the batch runs
	// for all of them, under a deadline of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ingestBatchTimeout)
	defer cancel()
	err := errIngestInterrupted
	// Every waiter is answered whatever happens here: a panic that left
	// them waiting, and the queue without its writer, would stall every
	// later event. Each then writes its event alone, on its own goroutine.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errIngestInterrupted, r)
		}
		db.finishIngestBatch(events, err)
	}()
	err = db.recordAppliedEvents(ctx, events)
}

// errIngestInterrupted is a shared commit that panicked.
var errIngestInterrupted = errors.New("shared commit interrupted")

// finishIngestBatch tells a batch's waiters how their commit went.
func (db *DB) finishIngestBatch(events []*ingestEvent, err error) {
	db.ingest.mu.Lock()
	for _, ev := range events {
		ev.written = true
	}
	db.ingest.mu.Unlock()
	for _, ev := range events {
		if err != nil {
			ev.err = err
		}
		close(ev.done)
	}
}

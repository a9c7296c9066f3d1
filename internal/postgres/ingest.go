package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// Concurrent webhook deliveries share a commit. A commit is most of what an
// event costs the database (a WAL flush, a round trip, a wake-up of the
// backend), so events that arrive while another commit is under way are
// written together, in one batch, which PostgreSQL runs as one implicit
// transaction: each event's row and effect still commit atomically, and
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

// recordAppliedEventStatement stores an event as applied and expires its
// sessions in one statement, telling whether the event was new. For a
// duplicate the update runs again and, being guarded, changes nothing.
const recordAppliedEventStatement = `
	WITH event AS (
		INSERT INTO stripe_events (id, type, api_version, object_id, created_at, payload, applied_at, attempts)
		VALUES ($1, $2, $3, $4, $5, $6, now(), 1)
		ON CONFLICT (id) DO NOTHING
		RETURNING 1
	), expired AS (
		UPDATE checkout_sessions SET status = 'expired' WHERE id = ANY($7) AND status = 'open'
	)
	SELECT EXISTS (SELECT 1 FROM event)`

// recordAppliedEventAlone writes one event in a transaction of its own.
func (db *DB) recordAppliedEventAlone(ctx context.Context, e billing.Event, expired []string) (bool, error) {
	var inserted bool
	err := db.pool.QueryRow(ctx, recordAppliedEventStatement,
		e.ID, e.Type, e.APIVersion, e.ObjectID, e.Created, string(e.Payload), expired).Scan(&inserted)
	if err != nil {
		return false, fmt.Errorf("record applied event %s: %w", e.ID, err)
	}
	return inserted, nil
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

// writeIngestBatch commits a batch of events in one implicit transaction.
func (db *DB) writeIngestBatch(ctx context.Context, events []*ingestEvent) {
	b := &pgx.Batch{}
	for _, ev := range events {
		e := ev.event
		b.Queue(recordAppliedEventStatement, e.ID, e.Type, e.APIVersion, e.ObjectID, e.Created, string(e.Payload), ev.expired).
			QueryRow(func(row pgx.Row) error { return row.Scan(&ev.inserted) })
	}
	// The writer's own request may end before the others': the batch runs
	// for all of them, under a deadline of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ingestBatchTimeout)
	defer cancel()
	err := db.pool.SendBatch(ctx, b).Close()
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

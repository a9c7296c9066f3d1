package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

// A shared commit that panics (here: a DB with no pool) must still answer
// every waiter and give up its place as the writer, or every later event
// would wait for a writer that is gone.
func TestASharedCommitThatPanicsAnswersEveryWaiter(t *testing.T) {
	db := &DB{}
	own := &ingestEvent{event: billing.Event{ID: "evt_own"}, done: make(chan struct{})}
	other := &ingestEvent{event: billing.Event{ID: "evt_other"}, done: make(chan struct{})}
	db.ingest.queue = []*ingestEvent{own, other}
	db.ingest.writers = 1
	db.writeIngestQueue(context.Background(), own)
	for _, ev := range []*ingestEvent{own, other} {
		select {
		case <-ev.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was never answered", ev.event.ID)
		}
		if !errors.Is(ev.err, errIngestInterrupted) {
			t.Errorf("%s: err = %v, want the commit reported interrupted", ev.event.ID, ev.err)
		}
	}
	db.ingest.mu.Lock()
	defer db.ingest.mu.Unlock()
	if db.ingest.writers != 0 || len(db.ingest.queue) != 0 {
		t.Errorf("after the panic: %d writers, %d queued; want the place given up", db.ingest.writers, len(db.ingest.queue))
	}
}

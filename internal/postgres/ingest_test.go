package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/postgres"
)

func expiredEvent(id, session string) billing.Event {
	return billing.Event{ID: id, Type: billing.EventCheckoutSessionExpired, Created: time.Now(), ObjectID: session,
		Payload: fmt.Appendf(nil, `{"id":%q}`, id)}
}

// receiveQueued delivers events while the writers are held, waits until all
// have queued, then lets the queue be written; it returns each call's result.
func receiveQueued(t *testing.T, db *postgres.DB, events []billing.Event) ([]bool, []error) {
	t.Helper()
	queued, release := db.HoldIngest()
	inserted := make([]bool, len(events))
	errs := make([]error, len(events))
	var wg sync.WaitGroup
	for i, e := range events {
		wg.Go(func() {
			inserted[i], errs[i] = db.RecordAppliedEvent(context.Background(), e, billing.Effect{ExpiredSessions: []string{e.ObjectID}})
		})
	}
	for deadline := time.Now().Add(10 * time.Second); queued() < len(events); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events queued", queued(), len(events))
		}
	}
	release()
	wg.Wait()
	return inserted, errs
}

func TestConcurrentEventsShareOneCommit(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO checkout_sessions (id, mode, currency) VALUES ('cs_open1', 'setup', 'usd')`); err != nil {
		t.Fatal(err)
	}
	events := []billing.Event{
		expiredEvent("evt_a", "cs_open1"), expiredEvent("evt_b", "cs_unknown"), expiredEvent("evt_c", "cs_other"),
		expiredEvent("evt_a", "cs_open1"), // a duplicate in the same batch is recognised
	}
	inserted, errs := receiveQueued(t, db, events)
	new := 0
	for i := range events {
		if errs[i] != nil {
			t.Fatalf("event %d: %v", i, errs[i])
		}
		if inserted[i] {
			new++
		}
	}
	if new != 3 {
		t.Fatalf("%d events reported new, want 3 (one of the two evt_a)", new)
	}
	// now() is the transaction's start: one value for all means one commit.
	var rows, commits int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT applied_at) FROM stripe_events`).Scan(&rows, &commits); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || commits != 1 {
		t.Fatalf("%d events stored in %d transactions, want 3 in 1", rows, commits)
	}
	var status string
	if err := db.Pool().QueryRow(ctx, `SELECT status FROM checkout_sessions WHERE id = 'cs_open1'`).Scan(&status); err != nil || status != "expired" {
		t.Fatalf("session status %q (%v), want expired with its event", status, err)
	}
}

func TestABadEventFailsAloneInASharedCommit(t *testing.T) {
	db := pg.NewDB(t)
	bad := expiredEvent("evt_bad", "cs_x")
	bad.ID = "not an event id" // refused by the ledger's CHECK, failing the shared transaction
	events := []billing.Event{expiredEvent("evt_1", "cs_1"), bad, expiredEvent("evt_2", "cs_2")}
	inserted, errs := receiveQueued(t, db, events)
	if errs[1] == nil {
		t.Fatal("the bad event was accepted")
	}
	for _, i := range []int{0, 2} {
		if errs[i] != nil || !inserted[i] {
			t.Fatalf("event %d: inserted %v, err %v; a neighbour's failure must not fail it", i, inserted[i], errs[i])
		}
	}
	if n := count(t, db, "stripe_events"); n != 2 {
		t.Fatalf("%d events stored, want the 2 good ones", n)
	}
}

func TestAWaitingEventGivesUpWithItsRequest(t *testing.T) {
	db := pg.NewDB(t)
	_, release := db.HoldIngest()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := db.RecordAppliedEvent(ctx, expiredEvent("evt_gone", "cs_1"), billing.Effect{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want the request's cancellation", err)
	}
}

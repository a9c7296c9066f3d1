package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// stripeReads are the gateway operations that read an object from Stripe.
var stripeReads = []string{
	stripeapi.OpRetrieveSession, stripeapi.OpRetrieveSetupIntent, stripeapi.OpRetrievePaymentMethod,
	"customers.retrieve", stripeapi.OpRetrieveEvent,
}

func readsSince(before, after map[string]int) int {
	n := 0
	for _, op := range stripeReads {
		n += after[op] - before[op]
	}
	return n
}

// heldWebhooks stands between the emulator and the store's /webhook and
// holds every delivery until released: the usual order, where the
// customer's browser is back on the success page before Stripe's events
// arrive.
type heldWebhooks struct {
	server *httptest.Server
	target atomic.Pointer[string]
	mu     sync.Mutex
	open   chan struct{}
}

func newHeldWebhooks(t *testing.T) *heldWebhooks {
	t.Helper()
	g := &heldWebhooks{open: make(chan struct{})}
	g.server = httptest.NewServer(stripespec.Webhooks(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
		case <-r.Context().Done():
			return
		}
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, *g.target.Load(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body) //nolint:errcheck
	})))
	t.Cleanup(func() {
		g.release()
		g.server.Close()
	})
	return g
}

func (g *heldWebhooks) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *heldWebhooks) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// awaitDeliveries waits until the emulator has delivered every event of the
// handled types to a 2xx.
func (h *harness) awaitDeliveries() []billing.Event {
	h.t.Helper()
	events := h.stripeEvents()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var delivered []string
		for _, d := range h.emu.Deliveries() {
			if d.OK() {
				delivered = append(delivered, d.EventID)
			}
		}
		missing := 0
		for _, e := range events {
			if !slices.Contains(delivered, e.ID) {
				missing++
			}
		}
		if missing == 0 {
			return events
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d of %d events still undelivered; deliveries: %+v", missing, len(events), h.emu.Deliveries())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOneStripeReadPerSavedCard saves a card for a new customer and then
// for the same, returning, customer, each on the usual path: the success
// page first, then the emulator's own webhook deliveries. The success page
// reads the session; every event then finds its object mirrored and costs
// no read.
func TestOneStripeReadPerSavedCard(t *testing.T) {
	gate := newHeldWebhooks(t)
	stripe := newStripe(t, stripeemu.Options{WebhookURL: gate.server.URL, WebhookSecret: webhookSecret})
	h := newStore(t, stripe, nil)
	target := h.store.URL + "/webhook"
	gate.target.Store(&target)

	cards := []struct {
		name, email, number string
		writes              map[string]int
	}{
		{"new customer", "nora@example.com", "4242424242424242",
			map[string]int{stripeapi.OpCreateSession: 1, stripeapi.OpCreateCustomer: 1, stripeapi.OpAttachPaymentMethod: 1}},
		{"returning customer", "NORA@example.com", "5555555555554444",
			map[string]int{stripeapi.OpCreateSession: 1}},
	}
	for _, card := range cards {
		gate.hold()
		before := h.gateway.Calls()
		id := h.startSession(card.email)
		h.completeWith(id, card.number, "nora@example.com")
		if res := h.get("/success?session_id=" + id); res.status != http.StatusOK || !strings.Contains(res.body, card.number[12:]) {
			t.Fatalf("%s: success page %d %s", card.name, res.status, res.body)
		}
		gate.release()
		events := h.awaitDeliveries()
		after := h.gateway.Calls()
		if n := readsSince(before, after); n != 1 {
			t.Errorf("%s: %d Stripe reads, want 1 (calls before %v, after %v)", card.name, n, before, after)
		}
		for op, want := range card.writes {
			if n := after[op] - before[op]; n != want {
				t.Errorf("%s: %d %s, want %d", card.name, n, op, want)
			}
		}
		c, err := h.db.CustomerByEmail(context.Background(), "nora@example.com")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			stored := h.ledger(e.ID)
			if stored.AppliedAt.IsZero() || stored.LastError != "" || stored.Attempts != 1 {
				t.Errorf("%s: %s %s in the ledger: %+v", card.name, e.Type, e.ID, stored)
			}
			// Applied without a read, the event is still filed under its customer.
			var filed *int64
			if err := h.db.Pool().QueryRow(context.Background(), `SELECT customer_id FROM stripe_events WHERE id = $1`, e.ID).Scan(&filed); err != nil {
				t.Fatal(err)
			}
			if filed == nil || *filed != c.ID {
				t.Errorf("%s: %s filed under %v, want customer %d", card.name, e.Type, filed, c.ID)
			}
		}
	}
	if n := h.count("payment_methods"); n != 2 {
		t.Errorf("%d payment methods, want 2", n)
	}

	// The same events (every type, as the emulator delivered them), newest
	// first to a store that never saw the success pages, end in the same state.
	reversed := newStore(t, stripe, nil)
	lister := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_lister", APIBase: stripe.server.URL})
	all, err := lister.ListEvents(context.Background(), time.Now().Add(-time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range slices.Backward(all) {
		if res := reversed.deliver(e); res.status != http.StatusOK {
			t.Fatalf("reversed, %s: %d %s", e.Type, res.status, res.body)
		}
	}
	if a, b := h.stableState(), reversed.stableState(); a != b {
		t.Errorf("usual path:\n%s\nreversed:\n%s", a, b)
	}
}

// TestLateEventAboutACardReadSinceCostsNoRead: an event created well before
// the store's last read of its card (delivered late, as Stripe's retries
// are) is applied without asking Stripe, while one created just before that
// read, inside the clock margin, is still read back.
func TestLateEventAboutACardReadSinceCostsNoRead(t *testing.T) {
	var skew atomic.Int64
	stripe := newStripe(t, stripeemu.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	h := newStore(t, stripe, nil)
	id := h.savedCard("late@example.com", "4242424242424242")
	if res := h.get("/success?session_id=" + id); res.status != http.StatusOK {
		t.Fatalf("success: %d", res.status)
	}
	pm, err := h.db.SessionPaymentMethod(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}

	// A change made a minute ago whose event is still on its way, then a
	// change made now.
	skew.Store(int64(-time.Minute))
	updateCardExpiry(t, stripe.server.URL, pm.ID, 4, 2041)
	skew.Store(0)
	updateCardExpiry(t, stripe.server.URL, pm.ID, 5, 2042)
	var updates []billing.Event
	for _, e := range h.stripeEvents() {
		if e.Type == billing.EventPaymentMethodUpdated {
			updates = append(updates, e)
		}
	}
	if len(updates) != 2 || !updates[0].Created.Before(updates[1].Created.Add(-30*time.Second)) {
		t.Fatalf("updates: %+v", updates)
	}
	old, recent := updates[0], updates[1]

	before := h.gateway.Calls()
	if res := h.deliver(recent); res.status != http.StatusOK {
		t.Fatalf("recent update: %d", res.status)
	}
	mid := h.gateway.Calls()
	if n := readsSince(before, mid); n != 1 {
		t.Errorf("an update made after the last read: %d reads, want 1", n)
	}
	if res := h.deliver(old); res.status != http.StatusOK {
		t.Fatalf("old update: %d", res.status)
	}
	if n := readsSince(mid, h.gateway.Calls()); n != 0 {
		t.Errorf("an update older than the last read: %d reads, want 0", n)
	}
	if e := h.ledger(old.ID); e.AppliedAt.IsZero() || e.LastError != "" {
		t.Errorf("old update in the ledger: %+v", e)
	}
	if state := h.stableState(); !strings.Contains(state, "4242 5/2042 active") {
		t.Errorf("final state misses the newest expiry:\n%s", state)
	}
}

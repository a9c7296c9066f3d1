package stripeemu_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/stripe/stripe-go/v76"
)

// memState is a StateStore in memory, standing for the database between
// two emulators as it does between two processes.
type memState struct {
	mu    sync.Mutex
	saved []byte
	saves int
	fail  error
}

func (m *memState) Load(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saved, nil
}

func (m *memState) Save(_ context.Context, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.saved, m.saves = append([]byte(nil), b...), m.saves+1
	return nil
}

func restored(t *testing.T, st *memState, opts stripeemu.Options) *env {
	t.Helper()
	opts.State = st
	e := newEnv(t, opts)
	if err := e.emu.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// An emulator restarted on its saved state answers every read as before,
// replays idempotent requests, and carries on: the saved card is charged.
func TestStateSurvivesRestart(t *testing.T) {
	st := &memState{}
	a := restored(t, st, stripeemu.Options{})
	cus := a.customer("kim@example.com")
	sess := a.setupSession(cus.ID)
	if err := a.emu.CompleteCheckout(context.Background(), sess.ID, stripeemu.Card{Number: "4000 0000 0000 0341", Expiry: "12/34", CVC: "123", Email: "kim@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, _, s := a.do("GET", "/v1/checkout/sessions/"+sess.ID+"?expand[]=setup_intent", "", nil)
	pmID := s["setup_intent"].(map[string]any)["payment_method"].(string)
	code, _, first := a.do("POST", "/v1/customers", "email=lee%40example.com", map[string]string{"Idempotency-Key": "k1"})
	if code != http.StatusOK {
		t.Fatalf("create customer: %d", code)
	}
	paths := []string{
		"/v1/customers/" + cus.ID, "/v1/checkout/sessions/" + sess.ID + "?expand[]=setup_intent.payment_method",
		"/v1/payment_methods/" + pmID, "/v1/customers/" + cus.ID + "/payment_methods", "/v1/events?limit=100",
	}
	before := map[string]map[string]any{}
	for _, p := range paths {
		_, _, before[p] = a.do("GET", p, "", nil)
	}

	b := restored(t, st, stripeemu.Options{})
	for _, p := range paths {
		code, _, got := b.do("GET", p, "", nil)
		if code != http.StatusOK || !reflect.DeepEqual(got, before[p]) {
			t.Errorf("GET %s after restart: %d\n got %v\nwant %v", p, code, got, before[p])
		}
	}
	code, hdr, again := b.do("POST", "/v1/customers", "email=lee%40example.com", map[string]string{"Idempotency-Key": "k1"})
	if code != http.StatusOK || hdr.Get("Idempotent-Replayed") != "true" || again["id"] != first["id"] {
		t.Errorf("idempotent retry after restart: %d replayed=%q id %v, want the first answer (%v)", code, hdr.Get("Idempotent-Replayed"), again["id"], first["id"])
	}
	// The card keeps its issuer behaviour: 0341 declines off-session.
	if _, err := b.chargeOffSession(cus.ID, pmID, 1000); err == nil || stripeErr(t, err).Code != stripe.ErrorCodeCardDeclined {
		t.Errorf("charge of the 0341 card after restart: %v, want card_declined", err)
	}
	pi, err := b.chargeOffSession(cus.ID, b.attachNew(cus.ID), 1000)
	if err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Errorf("charge of a new card after restart: %v %v", pi, err)
	}
}

// attachNew saves a 4242 card to customer through a setup session.
func (e *env) attachNew(customerID string) string {
	e.t.Helper()
	sess := e.setupSession(customerID)
	if err := e.emu.CompleteCheckout(context.Background(), sess.ID, stripeemu.Card{Number: "4242424242424242", Expiry: "12/34", CVC: "123", Email: "kim@example.com"}); err != nil {
		e.t.Fatal(err)
	}
	_, _, s := e.do("GET", "/v1/checkout/sessions/"+sess.ID+"?expand[]=setup_intent", "", nil)
	return s["setup_intent"].(map[string]any)["payment_method"].(string)
}

// An event is delivered only once it is saved, and one still owed when the
// emulator stops is delivered by the next one.
func TestOwedDeliveriesResumeAfterRestart(t *testing.T) {
	down := newHookReceiver(t, func(stripe.Event) int { return http.StatusServiceUnavailable })
	st := &memState{}
	a := restored(t, st, stripeemu.Options{WebhookURL: down.srv.URL, RetryBase: time.Hour, RetryMax: time.Hour})
	cus := a.customer("kim@example.com")
	waitFor(t, 5*time.Second, "the first attempt", func() bool { return len(down.events()) == 1 })
	a.emu.Close()

	up := newHookReceiver(t, nil)
	restored(t, st, stripeemu.Options{WebhookURL: up.srv.URL})
	waitFor(t, 5*time.Second, "the owed delivery", func() bool { return len(up.events()) == 1 })
	if ev := up.events()[0]; ev.Type != "customer.created" || ev.Data.Object["id"] != cus.ID {
		t.Errorf("delivered %s about %v, want customer.created about %s", ev.Type, ev.Data.Object["id"], cus.ID)
	}
}

// A request whose effect could not be saved is a 500 and sends no webhook.
func TestUnsavedStateFailsTheRequest(t *testing.T) {
	hook := newHookReceiver(t, nil)
	st := &memState{fail: errors.New("disk full")}
	e := restored(t, st, stripeemu.Options{WebhookURL: hook.srv.URL})
	code, _, body := e.do("POST", "/v1/customers", "email=kim%40example.com", nil)
	if code != http.StatusInternalServerError {
		t.Errorf("create customer with a failing store: %d %v, want 500", code, body)
	}
	e.emu.Close() // waits for any delivery goroutine
	if got := hook.events(); len(got) != 0 {
		t.Errorf("delivered %d events whose state was not saved", len(got))
	}
}

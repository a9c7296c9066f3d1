package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
)

// stripeEvents lists the emulator's events of the types the store handles,
// oldest first, as Stripe would have delivered them.
func (h *harness) stripeEvents() []billing.Event {
	h.t.Helper()
	lister := stripeapi.New(stripeapi.Config{SecretKey: emulatorKey, APIBase: h.stripeServer.URL})
	events, err := lister.ListEvents(context.Background(), time.Now().Add(-time.Hour), billing.HandledEventTypes())
	if err != nil {
		h.t.Fatal(err)
	}
	return events
}

func eventOfType(t *testing.T, events []billing.Event, typ string) billing.Event {
	t.Helper()
	for _, e := range events {
		if e.Type == typ {
			return e
		}
	}
	t.Fatalf("no %s event among %d", typ, len(events))
	return billing.Event{}
}

// deliver posts an event to /webhook signed as Stripe signs it.
func (h *harness) deliver(e billing.Event) response {
	h.t.Helper()
	return h.postWebhook(e.Payload, signed(e.Payload, webhookSecret, time.Now()))
}

func (h *harness) ledger(id string) billing.StoredEvent {
	h.t.Helper()
	e, err := h.db.StoredEvent(context.Background(), id)
	if err != nil {
		h.t.Fatalf("ledger %s: %v", id, err)
	}
	return e
}

// savedCard runs Save card and the hosted page, without visiting the success page.
func (h *harness) savedCard(email, number string) string {
	h.t.Helper()
	id := h.startSession(email)
	h.completeWith(id, number, email)
	return id
}

func TestSameEventTwentyTimesAtOnceIsAppliedOnce(t *testing.T) {
	h := newHarness(t)
	sessionID := h.savedCard("tw@example.com", "4242424242424242")
	completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if res := h.deliver(completed); res.status != http.StatusOK {
				t.Errorf("delivery: %d %s", res.status, res.body)
			}
		})
	}
	wg.Wait()
	stored := h.ledger(completed.ID)
	if stored.AppliedAt.IsZero() || stored.Attempts != 1 || stored.LastError != "" {
		t.Errorf("ledger: %+v, want applied once without error", stored)
	}
	for table, want := range map[string]int{"stripe_events": 1, "payment_methods": 1, "setup_intents": 1} {
		if n := h.count(table); n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	if s, _ := h.db.CheckoutSession(context.Background(), sessionID); s.Status != billing.SessionComplete {
		t.Errorf("session status %q", s.Status)
	}
}

// stableState renders what the store knows, leaving out our own timestamps
// and serial ids, so two stores fed the same events can be compared.
func (h *harness) stableState() string {
	h.t.Helper()
	queries := []string{
		`SELECT coalesce(email, '-') || ' ' || coalesce(stripe_customer_id, '-') FROM customers ORDER BY 1`,
		`SELECT pm.id || ' ' || coalesce(c.stripe_customer_id, '-') || ' ' || coalesce(brand, '') || ' ' || coalesce(last4, '') || ' ' ||
		        coalesce(exp_month, 0) || '/' || coalesce(exp_year, 0) || ' ' || status
		 FROM payment_methods pm LEFT JOIN customers c ON c.id = pm.customer_id ORDER BY 1`,
		`SELECT id || ' ' || status || ' ' || coalesce(payment_method_id, '-') FROM setup_intents ORDER BY 1`,
		`SELECT s.id || ' ' || s.status || ' ' || coalesce(s.setup_intent_id, '-') || ' ' || coalesce(c.stripe_customer_id, '-')
		 FROM checkout_sessions s LEFT JOIN customers c ON c.id = s.customer_id ORDER BY 1`,
		`SELECT id || ' ' || (applied_at IS NOT NULL) FROM stripe_events ORDER BY 1`,
	}
	var b strings.Builder
	for _, q := range queries {
		var rows string
		if err := h.db.Pool().QueryRow(context.Background(), `SELECT coalesce(string_agg(r, E'\n'), '') FROM (`+q+`) AS t(r)`).Scan(&rows); err != nil {
			h.t.Fatal(err)
		}
		b.WriteString(rows + "\n--\n")
	}
	return b.String()
}

// updateCardExpiry changes a card on Stripe's side, which emits payment_method.updated.
func updateCardExpiry(t *testing.T, stripeURL, pmID string, month, year int) {
	t.Helper()
	form := url.Values{"card[exp_month]": {fmt.Sprint(month)}, "card[exp_year]": {fmt.Sprint(year)}}
	req, _ := http.NewRequest(http.MethodPost, stripeURL+"/v1/payment_methods/"+pmID, strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer sk_test_harness")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("update payment method: %d", res.StatusCode)
	}
}

func TestDeliveryOrderDoesNotChangeTheOutcome(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{})
	inOrder := newStore(t, stripe, nil)
	reversed := newStore(t, stripe, nil)

	// A session made outside either store, a card saved, then its expiry updated.
	ctx := context.Background()
	customer, err := inOrder.gateway.CreateCustomer(ctx, "ord@example.com", "order-customer")
	if err != nil {
		t.Fatal(err)
	}
	session, err := inOrder.gateway.CreateSetupSession(ctx, billing.SetupSessionParams{
		StripeCustomerID: customer, Currency: "usd", SuccessURL: "http://x/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://x/cancel",
	})
	if err != nil {
		t.Fatal(err)
	}
	inOrder.completeWith(session.ID, "4242424242424242", "ord@example.com")
	state, err := inOrder.gateway.RetrieveSession(ctx, session.ID)
	if err != nil {
		t.Fatal(err)
	}
	updateCardExpiry(t, stripe.server.URL, state.PaymentMethod.ID, 3, 2040)

	events := inOrder.stripeEvents()
	types := make([]string, len(events))
	for i, e := range events {
		types[i] = e.Type
	}
	for _, want := range []string{billing.EventPaymentMethodAttached, billing.EventSetupIntentSucceeded, billing.EventCheckoutSessionCompleted, billing.EventPaymentMethodUpdated} {
		if !slices.Contains(types, want) {
			t.Fatalf("the sequence lacks %s: %v", want, types)
		}
	}
	for _, e := range events {
		if res := inOrder.deliver(e); res.status != http.StatusOK {
			t.Fatalf("in order, %s: %d", e.Type, res.status)
		}
	}
	for _, e := range slices.Backward(events) {
		if res := reversed.deliver(e); res.status != http.StatusOK {
			t.Fatalf("reversed, %s: %d", e.Type, res.status)
		}
	}
	a, b := inOrder.stableState(), reversed.stableState()
	if a != b {
		t.Errorf("in order:\n%s\nreversed:\n%s", a, b)
	}
	if !strings.Contains(a, "4242 3/2040 active") || !strings.Contains(a, session.ID+" complete") {
		t.Errorf("final state misses the updated card or the completed session:\n%s", a)
	}
}

func TestSuccessPageAndWebhookConverge(t *testing.T) {
	orders := map[string]func(h *harness, sessionID string, completed billing.Event){
		"webhook first": func(h *harness, id string, e billing.Event) {
			h.deliver(e)
			h.get("/success?session_id=" + id)
		},
		"success first": func(h *harness, id string, e billing.Event) {
			h.get("/success?session_id=" + id)
			h.deliver(e)
		},
		"at once": func(h *harness, id string, e billing.Event) {
			var wg sync.WaitGroup
			wg.Go(func() { h.deliver(e) })
			wg.Go(func() { h.get("/success?session_id=" + id) })
			wg.Wait()
		},
	}
	for name, run := range orders {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			id := h.savedCard("race@example.com", "4242424242424242")
			completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
			before := h.gateway.Calls()
			run(h, id, completed)
			after := h.gateway.Calls()
			// Budget: one retrieval of the session, and for a new customer one
			// Customer and one attach; two each when both paths start before either records.
			budget := map[bool]int{true: 2, false: 1}[name == "at once"]
			for _, op := range []string{stripeapi.OpRetrieveSession, stripeapi.OpCreateCustomer, stripeapi.OpAttachPaymentMethod} {
				if calls := after[op] - before[op]; calls > budget {
					t.Errorf("%s: %d calls, budget %d", op, calls, budget)
				}
			}
			if total := h.gateway.TotalCalls(); total-sum(before) > 3*budget {
				t.Errorf("%d Stripe calls in all: %v", total-sum(before), after)
			}
			if n := h.count("payment_methods"); n != 1 {
				t.Errorf("%d payment methods, want 1", n)
			}
			if res := h.get("/success?session_id=" + id); !strings.Contains(res.body, "4242") {
				t.Errorf("success page after both: %d", res.status)
			}
			if h.ledger(completed.ID).AppliedAt.IsZero() {
				t.Error("the event is not marked applied")
			}
		})
	}
}

func TestDatabaseDownDuringDeliveryIs503ThenAppliedOnce(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{})
	h, proxy := newStoreBehindProxy(t, stripe)

	h.savedCard("down@example.com", "4242424242424242")
	completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)

	proxy.Down()
	if res := h.deliver(completed); res.status != http.StatusServiceUnavailable {
		t.Errorf("delivery with the database down: %d, want 503", res.status)
	}
	proxy.Up()
	if n := h.count("stripe_events"); n != 0 {
		t.Errorf("%d ledger rows from a delivery answered 503", n)
	}
	for range 2 { // Stripe's retry, and a duplicate of it
		if res := h.deliver(completed); res.status != http.StatusOK {
			t.Errorf("retry after recovery: %d %s", res.status, res.body)
		}
	}
	if e := h.ledger(completed.ID); e.AppliedAt.IsZero() || e.Attempts != 1 {
		t.Errorf("ledger %+v, want applied once", e)
	}
	if n := h.count("payment_methods"); n != 1 {
		t.Errorf("%d payment methods, want 1", n)
	}
}

func TestFailedEventIsKeptAndReplayed(t *testing.T) {
	h := newHarness(t)
	h.savedCard("fail@example.com", "4242424242424242")
	events := h.stripeEvents()
	completed := eventOfType(t, events, billing.EventCheckoutSessionCompleted)
	succeeded := eventOfType(t, events, billing.EventSetupIntentSucceeded)

	h.stripeDown.Store(true)
	if res := h.deliver(completed); res.status != http.StatusInternalServerError {
		t.Errorf("delivery with Stripe down: %d, want 500 so Stripe retries", res.status)
	}
	stored := h.ledger(completed.ID)
	if !stored.AppliedAt.IsZero() || stored.LastError == "" || stored.Attempts != 1 {
		t.Errorf("ledger %+v, want kept unapplied with its error", stored)
	}
	h.stripeDown.Store(false)
	// Another event goes through meanwhile: a failed one blocks nothing.
	if res := h.deliver(succeeded); res.status != http.StatusOK {
		t.Errorf("other event: %d", res.status)
	}
	if _, err := h.svc.ReplayEvent(asStaff(), completed.ID); err != nil {
		t.Fatal(err)
	}
	if e := h.ledger(completed.ID); e.AppliedAt.IsZero() || e.LastError != "" {
		t.Errorf("after replay: %+v", e)
	}
	if s, _ := h.db.CheckoutSession(context.Background(), eventOfType(t, events, billing.EventCheckoutSessionCompleted).ObjectID); s.Status != billing.SessionComplete {
		t.Errorf("session %q after replay", s.Status)
	}
}

func TestUnknownTypesAndOtherAPIVersionsAreStoredAndAcknowledged(t *testing.T) {
	h := newHarness(t)
	for _, payload := range [][]byte{
		[]byte(`{"id":"evt_unknown1","object":"event","api_version":"2023-10-16","created":1760000000,"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice"}}}`),
		[]byte(`{"id":"evt_oldversion1","object":"event","api_version":"2019-03-14","created":1760000000,"type":"checkout.session.expired","data":{"object":{"id":"cs_test_unknownExpired","object":"checkout.session"}}}`),
	} {
		if res := h.postWebhook(payload, signed(payload, webhookSecret, time.Now())); res.status != http.StatusOK {
			t.Errorf("status %d for %s", res.status, payload)
		}
	}
	for _, id := range []string{"evt_unknown1", "evt_oldversion1"} {
		if e := h.ledger(id); e.AppliedAt.IsZero() || !strings.Contains(string(e.Payload), id) {
			t.Errorf("%s: %+v", id, e)
		}
	}
}

func TestSyncRecoversDroppedDeliveries(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // every delivery to it fails: the endpoint is "elsewhere"
	stripe := newStripe(t, stripeemu.Options{WebhookURL: dead.URL, WebhookSecret: webhookSecret, RetryBase: time.Hour})
	h := newStore(t, stripe, nil)
	sessionID := h.savedCard("sync@example.com", "5555555555554444")

	report, err := h.svc.Sync(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if report.Found == 0 || report.Applied != report.Found || len(report.Failed) != 0 {
		t.Errorf("first sync: %+v, want every event applied", report)
	}
	if s, _ := h.db.CheckoutSession(context.Background(), sessionID); s.Status != billing.SessionComplete {
		t.Errorf("session %q after sync", s.Status)
	}
	pm, err := h.db.SessionPaymentMethod(context.Background(), sessionID)
	if err != nil || pm.Last4 != "4444" {
		t.Errorf("card after sync: %+v, %v", pm, err)
	}
	if n := h.count("stripe_events"); n != report.Found {
		t.Errorf("%d ledger rows, want %d", n, report.Found)
	}

	// Saving the card attached it to a new Stripe Customer, which is an event
	// of its own: the next sync applies it, and the one after finds nothing new.
	caughtUp, err := h.svc.Sync(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	before := h.snapshot()
	again, err := h.svc.Sync(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if again.Applied != 0 || again.AlreadyApplied != caughtUp.Found {
		t.Errorf("sync after catching up: %+v, want nothing applied", again)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("second sync changed the database")
	}
}

func sum(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// TestASucceededChargesEventCostsNoStripeCall: Stripe's answer to a charge
// comes before its payment_intent.succeeded, and a PaymentIntent once
// succeeded stays so; the event is applied with no read-back. An event
// for a charge whose answer was lost is read back, and records it.
func TestASucceededChargesEventCostsNoStripeCall(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["T-shirt"], "1", "pi@example.com", "4242424242424242")
	if _, err := h.shop.ChargeOrder(context.Background(), staffActor(), o.ID); err != nil {
		t.Fatal(err)
	}
	succeeded := eventOfType(t, h.stripeEvents(), billing.EventPaymentIntentSucceeded)
	reads := h.gateway.Calls()[stripeapi.OpRetrievePaymentIntent]
	if res := h.deliver(succeeded); res.status != http.StatusOK {
		t.Fatalf("delivery: %d %s", res.status, res.body)
	}
	if n := h.gateway.Calls()[stripeapi.OpRetrievePaymentIntent] - reads; n != 0 || h.ledger(succeeded.ID).AppliedAt.IsZero() {
		t.Errorf("the event of a charge recorded succeeded: %d read-backs, applied at %v", n, h.ledger(succeeded.ID).AppliedAt)
	}

	// Stripe charged the next order, but its answer never reached us: our
	// records say what they say while a charge is in flight.
	o2 := h.placeOrder(h.catalog()["Mug"], "1", "lost@example.com", "4242424242424242")
	if _, err := h.shop.ChargeOrder(context.Background(), staffActor(), o2.ID); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE charge_attempts SET status = 'processing', payment_intent_id = NULL
		 WHERE idempotency_key = (SELECT charge_key FROM orders WHERE id = $1)`,
		`UPDATE orders SET status = 'charging', paid_at = NULL WHERE id = $1`,
	} {
		if _, err := h.db.Pool().Exec(context.Background(), sql, o2.ID); err != nil {
			t.Fatal(err)
		}
	}
	var event billing.Event
	for _, e := range h.stripeEvents() {
		if e.Type == billing.EventPaymentIntentSucceeded && e.ID != succeeded.ID {
			event = e
		}
	}
	reads = h.gateway.Calls()[stripeapi.OpRetrievePaymentIntent]
	if res := h.deliver(event); res.status != http.StatusOK {
		t.Fatalf("delivery: %d %s", res.status, res.body)
	}
	if n := h.gateway.Calls()[stripeapi.OpRetrievePaymentIntent] - reads; n != 1 {
		t.Errorf("the event of a charge not recorded: %d read-backs, want 1", n)
	}
	if got := h.orderByID(o2.ID); got.Status != shop.Paid {
		t.Errorf("after its event the order is %s, want paid", got.Status)
	}
}

package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
)

func TestStorefrontShowsTheSaveCardForm(t *testing.T) {
	h := newHarness(t)
	res := h.get("/")
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	for _, want := range []string{`action="/create-checkout-session"`, `name="email"`, `>Save card</button>`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("storefront lacks %s", want)
		}
	}
}

func TestSaveCardRedirectsToSetupSession(t *testing.T) {
	h := newHarness(t)
	id := h.startSession("ann@example.com")
	s, err := h.db.CheckoutSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != billing.ModeSetup || s.Status != billing.SessionOpen || s.Currency != "usd" {
		t.Errorf("stored session = %+v", s)
	}
	// A new customer is made, here and on Stripe, once a card is saved.
	if n := h.count("customers"); n != 0 {
		t.Errorf("%d customers before any card was saved", n)
	}
	if remote := h.emuGet("/v1/checkout/sessions/" + id); !strings.Contains(remote, `"customer_email": "ann@example.com"`) {
		t.Errorf("the session does not carry the email: %s", remote)
	}
	h.completeWith(id, "4242424242424242", "ann@example.com")
	if res := h.get("/success?session_id=" + id); res.status != http.StatusOK {
		t.Fatalf("success: %d", res.status)
	}
	c, err := h.db.CustomerByEmail(context.Background(), "ann@example.com")
	if err != nil || !strings.HasPrefix(c.StripeID, "cus_") {
		t.Errorf("customer = %+v, %v", c, err)
	}
	if s, _ := h.db.CheckoutSession(context.Background(), id); s.CustomerID != c.ID {
		t.Errorf("session on customer %d, want %d", s.CustomerID, c.ID)
	}
}

// TestStripeCallBudget holds the flow to the calls DESIGN.md allows.
func TestStripeCallBudget(t *testing.T) {
	h := newHarness(t)
	step := func(name string, want map[string]int, do func()) {
		t.Helper()
		before := h.gateway.Calls()
		do()
		after := h.gateway.Calls()
		got := map[string]int{}
		for op, n := range after {
			if d := n - before[op]; d != 0 {
				got[op] = d
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: Stripe calls %v, want %v", name, got, want)
		}
	}
	var first, second string
	step("new customer's Save card", map[string]int{stripeapi.OpCreateSession: 1}, func() {
		first = h.startSession("ann@example.com")
	})
	h.completeWith(first, "4242424242424242", "ann@example.com")
	step("success page of a new customer's session", map[string]int{
		stripeapi.OpRetrieveSession: 1, stripeapi.OpCreateCustomer: 1, stripeapi.OpAttachPaymentMethod: 1,
	}, func() {
		if res := h.get("/success?session_id=" + first); res.status != http.StatusOK {
			t.Fatalf("success: %d %s", res.status, res.body)
		}
	})
	step("success page of a recorded session", map[string]int{}, func() {
		if res := h.get("/success?session_id=" + first); res.status != http.StatusOK || !strings.Contains(res.body, "4242") {
			t.Fatalf("success again: %d %s", res.status, res.body)
		}
	})
	// The same calls as a new customer's, so the form's timing tells nobody who is a customer.
	step("returning customer's Save card", map[string]int{stripeapi.OpCreateSession: 1}, func() {
		second = h.startSession("ANN@example.com ")
	})
	h.completeWith(second, "5555555555554444", "ann@example.com")
	step("success page of a returning customer's session", map[string]int{stripeapi.OpRetrieveSession: 1}, func() {
		if res := h.get("/success?session_id=" + second); res.status != http.StatusOK || !strings.Contains(res.body, "4444") {
			t.Fatalf("success: %d %s", res.status, res.body)
		}
	})
	if first == second {
		t.Error("two clicks share a session")
	}
	if n := h.count("customers"); n != 1 {
		t.Errorf("%d customers for one email in two cases, want 1", n)
	}
}

func TestSaveCardMakesOneStripeCustomerUnderConcurrentClicks(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	sessions := make(chan string, 8)
	for range 8 {
		wg.Go(func() { sessions <- h.startSession("cy@example.com") })
	}
	wg.Wait()
	close(sessions)
	for id := range sessions {
		h.completeWith(id, "4242424242424242", "cy@example.com")
		wg.Go(func() { h.get("/success?session_id=" + id) })
	}
	wg.Wait()
	// Each click may ask Stripe (no lock is held across the call), but with
	// the key derived from the email, Stripe makes one Customer.
	if n := h.stripeCount("/v1/customers"); n != 1 {
		t.Errorf("%d Stripe Customers for one email, want 1", n)
	}
	if n := h.count("customers"); n != 1 {
		t.Errorf("%d customers, want 1", n)
	}
	if n := h.count("checkout_sessions"); n != 8 {
		t.Errorf("%d sessions for 8 clicks, want 8", n)
	}
}

func TestFinalizeRecordsTheCardOnceUnderConcurrency(t *testing.T) {
	cards := []struct{ number, brand, last4 string }{
		{"4242424242424242", "visa", "4242"},
		{"5555555555554444", "mastercard", "4444"},
		{"378282246310005", "amex", "0005"},
	}
	for _, card := range cards {
		t.Run(card.brand, func(t *testing.T) {
			h := newHarness(t)
			id := h.startSession("di@example.com")
			h.completeWith(id, card.number, "di@example.com")

			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					res := h.get("/success?session_id=" + id)
					if res.status != http.StatusOK || !strings.Contains(res.body, card.last4) {
						t.Errorf("concurrent success: %d, body lacks %s", res.status, card.last4)
					}
				})
			}
			wg.Wait()
			h.get("/success?session_id=" + id) // and once more afterwards

			for table, want := range map[string]int{"payment_methods": 1, "setup_intents": 1} {
				if n := h.count(table); n != want {
					t.Errorf("%s: %d rows, want %d", table, n, want)
				}
			}
			pm, err := h.db.SessionPaymentMethod(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := h.db.CustomerByEmail(context.Background(), "di@example.com")
			if pm.Brand != card.brand || pm.Last4 != card.last4 || pm.ExpMonth != 12 || pm.ExpYear != 2034 ||
				pm.Fingerprint == "" || pm.CustomerID != c.ID || pm.Status != billing.PaymentMethodActive || pm.Type != "card" {
				t.Errorf("recorded %+v", pm)
			}
			s, _ := h.db.CheckoutSession(context.Background(), id)
			if s.Status != billing.SessionComplete || !strings.HasPrefix(s.SetupIntentID, "seti_") {
				t.Errorf("session %+v", s)
			}
		})
	}
}

func TestSuccessShowsTheCard(t *testing.T) {
	h := newHarness(t)
	id := h.startSession("ed@example.com")
	h.completeWith(id, "4242424242424242", "ed@example.com")
	res := h.get("/success?session_id=" + id)
	for _, want := range []string{"Visa", "4242", "12/2034"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("success page lacks %q", want)
		}
	}
}

// TestSessionWithoutCustomerAttachesToOneByEmail covers sessions created with
// no customer: the card must end up on a Customer to be chargeable later.
func TestSessionWithoutCustomerAttachesToOneByEmail(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	started, err := h.gateway.CreateSetupSession(ctx, billing.SetupSessionParams{
		Currency: "usd", SuccessURL: h.store.URL + "/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: h.store.URL + "/cancel",
	})
	if err != nil {
		t.Fatal(err)
	}
	started.Mode, started.Status, started.Currency = billing.ModeSetup, billing.SessionOpen, "usd"
	if err := h.db.CreateCheckoutSession(ctx, started); err != nil {
		t.Fatal(err)
	}
	h.completeWith(started.ID, "4242424242424242", "Fay@Example.com")

	before := h.gateway.Calls()
	if res := h.get("/success?session_id=" + started.ID); res.status != http.StatusOK || !strings.Contains(res.body, "4242") {
		t.Fatalf("success: %d %s", res.status, res.body)
	}
	after := h.gateway.Calls()
	for _, op := range []string{stripeapi.OpRetrieveSession, stripeapi.OpCreateCustomer, stripeapi.OpAttachPaymentMethod} {
		if after[op]-before[op] != 1 {
			t.Errorf("%s called %d times, want 1", op, after[op]-before[op])
		}
	}
	c, err := h.db.CustomerByEmail(ctx, "fay@example.com")
	if err != nil {
		t.Fatal(err)
	}
	pm, err := h.db.SessionPaymentMethod(ctx, started.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pm.CustomerID != c.ID {
		t.Errorf("payment method on customer %d, want %d", pm.CustomerID, c.ID)
	}
	// Stripe's side must agree: the card is attached to that customer there too.
	remote := h.stripePaymentMethod(pm.ID)
	if remote.Customer == nil || remote.Customer.ID != c.StripeID {
		t.Errorf("on Stripe, %s is attached to %+v, want %s", pm.ID, remote.Customer, c.StripeID)
	}
}

func (h *harness) stripePaymentMethod(id string) *stripe.PaymentMethod {
	h.t.Helper()
	res := h.emuGet("/v1/payment_methods/" + id)
	var pm stripe.PaymentMethod
	if err := pm.UnmarshalJSON([]byte(res)); err != nil {
		h.t.Fatalf("parse payment method: %v", err)
	}
	return &pm
}

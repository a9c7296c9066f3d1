package stripeemu_test

import (
	"testing"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/stripe/stripe-go/v76"
)

// Stripe creates a setup-mode session's SetupIntent with the session, so a
// store can read it before the customer has tried a card.
func TestSetupSessionHasItsSetupIntentFromCreation(t *testing.T) {
	env := newEnv(t, stripeemu.Options{})
	cus := env.customer("a@example.com")
	sess := env.setupSession(cus.ID)
	if sess.SetupIntent == nil || sess.SetupIntent.ID == "" {
		t.Fatalf("new setup session has no setup_intent")
	}
	si, err := env.sc.SetupIntents.Get(sess.SetupIntent.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if si.Status != stripe.SetupIntentStatusRequiresPaymentMethod || si.Customer == nil || si.Customer.ID != cus.ID {
		t.Errorf("setup intent = status %s, customer %v; want requires_payment_method for %s", si.Status, si.Customer, cus.ID)
	}
	if types := env.eventTypes(); !contains(types, "setup_intent.created") {
		t.Errorf("events before any attempt = %v, want setup_intent.created", types)
	}
	if err := env.emu.CompleteCheckout(t.Context(), sess.ID, stripeemu.Card{Number: "4242424242424242", Expiry: "12/40", CVC: "123", Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	done, err := env.sc.CheckoutSessions.Get(sess.ID, nil)
	if err != nil || done.SetupIntent == nil || done.SetupIntent.ID != si.ID {
		t.Fatalf("completed session's setup intent = %v (err %v), want the one created with it, %s", done.SetupIntent, err, si.ID)
	}
	if got, _ := env.sc.SetupIntents.Get(si.ID, nil); got == nil || got.Status != stripe.SetupIntentStatusSucceeded {
		t.Errorf("setup intent after the card = %v, want succeeded", got)
	}
}

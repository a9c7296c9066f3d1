package stripeemu_test

import (
	"net/http"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/stripeemu"
)

// TestRefunds follows Stripe's rules: a succeeded payment is refunded in
// full (status succeeded, charge.refunded and refund.created sent), a second
// full refund is charge_already_refunded, an unpaid PaymentIntent has no
// charge to refund, and the refund can be retrieved.
func TestRefunds(t *testing.T) {
	env := newEnv(t, stripeemu.Options{})
	cus, sess := completedSetupWith(t, env, "4242424242424242")
	params := &stripe.CheckoutSessionParams{}
	params.AddExpand("setup_intent")
	done, err := env.sc.CheckoutSessions.Get(sess.ID, params)
	if err != nil || done.SetupIntent == nil || done.SetupIntent.PaymentMethod == nil {
		t.Fatalf("completed session: %+v, %v", done, err)
	}
	si := done.SetupIntent
	pi, err := env.chargeOffSession(cus.ID, si.PaymentMethod.ID, 1500)
	if err != nil {
		t.Fatal(err)
	}
	refund, err := env.sc.Refunds.New(&stripe.RefundParams{PaymentIntent: stripe.String(pi.ID), Reason: stripe.String("duplicate")})
	if err != nil {
		t.Fatal(err)
	}
	if refund.Status != stripe.RefundStatusSucceeded || refund.Amount != 1500 || refund.PaymentIntent == nil || refund.PaymentIntent.ID != pi.ID || refund.Charge == nil {
		t.Errorf("refund %+v", refund)
	}
	if got, err := env.sc.Refunds.Get(refund.ID, nil); err != nil || got.ID != refund.ID {
		t.Errorf("retrieve: %v", err)
	}
	ch, err := env.sc.Charges.Get(refund.Charge.ID, nil)
	if err != nil || !ch.Refunded || ch.AmountRefunded != 1500 {
		t.Errorf("charge after the refund: %+v, %v", ch, err)
	}
	if types := env.eventTypes(); !contains(types, "charge.refunded") || !contains(types, "refund.created") {
		t.Errorf("events %v lack charge.refunded and refund.created", types)
	}

	_, err = env.sc.Refunds.New(&stripe.RefundParams{PaymentIntent: stripe.String(pi.ID)})
	if se := stripeErr(t, err); se.HTTPStatusCode != http.StatusBadRequest || se.Code != "charge_already_refunded" {
		t.Errorf("second refund: %+v", se)
	}
	status, _, body := env.do(http.MethodPost, "/v1/refunds", "payment_intent=pi_doesnotexist", nil)
	if status != http.StatusBadRequest || body["error"] == nil {
		t.Errorf("refund of an unknown PaymentIntent: %d %v", status, body)
	}
	status, _, _ = env.do(http.MethodPost, "/v1/refunds", "", nil)
	if status != http.StatusBadRequest {
		t.Errorf("refund of nothing: %d", status)
	}
	if status, _, _ := env.do(http.MethodGet, "/v1/refunds/re_missing", "", nil); status != http.StatusNotFound {
		t.Errorf("unknown refund: %d", status)
	}
}

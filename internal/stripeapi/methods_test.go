package stripeapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// TestRequestsAskForCardsOnly checks that every request that lets Stripe
// choose payment method types names cards: the emulator echoes what it was
// asked, and the Dashboard's types (card and link) when nothing was named.
func TestRequestsAskForCardsOnly(t *testing.T) {
	emu := stripeemu.New(stripeemu.Options{})
	srv := httptest.NewServer(stripespec.Checked(t, emu.Handler()))
	emu.SetPublicURL(srv.URL)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	rec := &recorder{}
	g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: srv.URL, HTTPClient: &http.Client{Transport: rec}})
	id := emulatorIDs(t, emu, g)
	ctx := context.Background()

	calls := []struct {
		name string
		call func() error
	}{
		{"setup session of a customer", func() error {
			_, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{StripeCustomerID: id.Customer, Currency: "usd",
				SuccessURL: "http://localhost/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://localhost/cancel"})
			return err
		}},
		{"setup session by email", func() error {
			_, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{CustomerEmail: "new@example.com", Currency: "usd",
				SuccessURL: "http://localhost/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://localhost/cancel"})
			return err
		}},
		{"recovery payment session", func() error {
			_, err := g.CreatePaymentSession(ctx, billing.PaymentSessionParams{
				AttemptID: 8, StripeCustomerID: id.Customer, Money: billing.Money{Amount: 700, Currency: "usd"}, Description: "Payment 8",
				SuccessURL: "http://localhost/pay/complete?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://localhost/pay/token",
			})
			return err
		}},
		{"off-session charge", func() error {
			_, err := g.ChargeOffSession(ctx, billing.OffSessionCharge{
				AttemptID: 8, StripeCustomerID: id.Customer, PaymentMethodID: id.PaymentMethod,
				Money: billing.Money{Amount: 700, Currency: "usd"}, IdempotencyKey: "cards-only-charge-key",
			})
			return err
		}},
	}
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		doc := rec.lastJSON(t)
		if got := fmt.Sprint(doc["payment_method_types"]); got != "[card]" {
			t.Errorf("%s: payment_method_types %s, want [card]", c.name, got)
		}
		if apm, ok := doc["automatic_payment_methods"].(map[string]any); ok && apm["enabled"] == true {
			t.Errorf("%s: automatic payment methods on: %v", c.name, apm)
		}
	}
}

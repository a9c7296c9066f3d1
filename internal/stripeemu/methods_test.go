package stripeemu_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/stripeemu"
)

// TestOffSessionPaymentMethodTypes holds the emulator to Stripe's rule since
// API version 2023-08-16: without payment_method_types, automatic payment
// methods are on, and confirming such an intent needs a return_url unless
// redirects are turned off.
func TestOffSessionPaymentMethodTypes(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	cus, _ := completedSetup(t, env)
	pms := env.sc.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID)})
	var pmID string
	for pms.Next() {
		pmID = pms.PaymentMethod().ID
	}
	base := url.Values{
		"amount": {"1000"}, "currency": {"usd"}, "customer": {cus.ID}, "payment_method": {pmID},
		"off_session": {"true"}, "confirm": {"true"},
	}
	cases := []struct {
		name      string
		extra     url.Values
		status    int
		types     []string
		automatic bool
		message   string
	}{
		{name: "no types: automatic, redirects allowed, no return_url", status: 400, message: returnURLMessage},
		{name: "cards only", extra: url.Values{"payment_method_types[]": {"card"}}, status: 200, types: []string{"card"}},
		{name: "automatic without redirects", extra: url.Values{"automatic_payment_methods[enabled]": {"true"}, "automatic_payment_methods[allow_redirects]": {"never"}}, status: 200, types: []string{"card", "link"}, automatic: true},
		{name: "automatic with redirects", extra: url.Values{"automatic_payment_methods[enabled]": {"true"}}, status: 400, message: returnURLMessage},
		{name: "automatic with a return_url", extra: url.Values{"return_url": {"https://shop.example/back"}}, status: 200, types: []string{"card", "link"}, automatic: true},
		{name: "both", extra: url.Values{"payment_method_types[]": {"card"}, "automatic_payment_methods[enabled]": {"true"}}, status: 400, message: "You may only specify one of these parameters: automatic_payment_methods, payment_method_types."},
		{name: "bad allow_redirects", extra: url.Values{"automatic_payment_methods[enabled]": {"true"}, "automatic_payment_methods[allow_redirects]": {"sometimes"}}, status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range base {
				form[k] = v
			}
			for k, v := range tc.extra {
				form[k] = v
			}
			code, _, m := env.do("POST", "/v1/payment_intents", form.Encode(), nil)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, m)
			}
			if code != 200 {
				e, _ := m["error"].(map[string]any)
				if e["type"] != "invalid_request_error" || (tc.message != "" && e["message"] != tc.message) {
					t.Fatalf("error %v", e)
				}
				return
			}
			if m["status"] != "succeeded" {
				t.Fatalf("status %v", m["status"])
			}
			var types []string
			for _, v := range m["payment_method_types"].([]any) {
				types = append(types, v.(string))
			}
			if !slices.Equal(types, tc.types) {
				t.Errorf("payment_method_types %v, want %v", types, tc.types)
			}
			apm, _ := m["automatic_payment_methods"].(map[string]any)
			if (apm != nil && apm["enabled"] == true) != tc.automatic {
				t.Errorf("automatic_payment_methods %v, want enabled=%v", m["automatic_payment_methods"], tc.automatic)
			}
		})
	}
}

const returnURLMessage = "A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents."

// TestCancelPaymentIntentFollowsStripe: an unpaid PaymentIntent can be
// cancelled once, with one of Stripe's reasons; a second cancel is Stripe's
// payment_intent_unexpected_state.
func TestCancelPaymentIntentFollowsStripe(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	code, _, pi := env.do("POST", "/v1/payment_intents", "amount=500&currency=usd&payment_method_types[]=card", nil)
	if code != 200 || pi["status"] != "requires_payment_method" {
		t.Fatalf("create: %d %v", code, pi)
	}
	path := "/v1/payment_intents/" + pi["id"].(string) + "/cancel"
	if code, _, m := env.do("POST", path, "cancellation_reason=bored", nil); code != 400 || m["error"].(map[string]any)["param"] != "cancellation_reason" {
		t.Fatalf("bad reason: %d %v", code, m)
	}
	if code, _, m := env.do("POST", path, "cancellation_reason=abandoned", nil); code != 200 || m["status"] != "canceled" || m["cancellation_reason"] != "abandoned" {
		t.Fatalf("cancel: %d %v", code, m)
	}
	if code, _, m := env.do("POST", path, "cancellation_reason=abandoned", nil); code != 400 || m["error"].(map[string]any)["code"] != "payment_intent_unexpected_state" {
		t.Fatalf("second cancel: %d %v", code, m)
	}
}

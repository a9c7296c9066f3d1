package stripeemu_test

import (
	"testing"

	"github.com/storefront/storefront/internal/stripeemu"
)

// TestUnknownParameter: a parameter an endpoint does not take, at the top or
// nested, is Stripe's 400 parameter_unknown naming it, and changes nothing,
// so a typo in a request fails locally as it would on Stripe.
func TestUnknownParameter(t *testing.T) {
	t.Parallel()
	env := newEnv(t, stripeemu.Options{})
	cus := env.customer("ann@example.com")
	lineItem := "payment_intent_data[setup_future_usage]=off_session&mode=payment&success_url=https%3A%2F%2Fa.example%2F&line_items[0][quantity]=1" +
		"&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=500"
	cases := []struct {
		name, method, path, body, param string
	}{
		{"customer field", "POST", "/v1/customers", "email=bo%40example.com&emial=x", "emial"},
		{"nested in a line item", "POST", "/v1/checkout/sessions", lineItem + "&line_items[0][price_data][product_data][name]=Tea&line_items[0][price_data][tax]=1", "line_items[0][price_data][tax]"},
		{"setup-mode field in payment mode", "POST", "/v1/checkout/sessions", lineItem + "&line_items[0][price_data][product_data][name]=Tea&setup_intent_data[description]=x", "setup_intent_data"},
		{"payment intent option", "POST", "/v1/payment_intents", "amount=500&currency=usd&payment_method_types[]=card&capture=manual", "capture"},
		{"nested in a hash", "POST", "/v1/customers/" + cus.ID, "invoice_settings[footer]=x", "invoice_settings[footer]"},
		{"list filter", "GET", "/v1/events?limit=3&created[since]=1", "", "created[since]"},
		{"retrieve", "GET", "/v1/customers/" + cus.ID + "?fields=email", "", "fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, m := env.do(tc.method, tc.path, tc.body, nil)
			e, _ := m["error"].(map[string]any)
			if code != 400 || e["type"] != "invalid_request_error" || e["code"] != "parameter_unknown" ||
				e["param"] != tc.param || e["message"] != "Received unknown parameter: "+tc.param {
				t.Fatalf("%d %v, want 400 parameter_unknown for %s", code, m, tc.param)
			}
		})
	}
	_, _, list := env.do("GET", "/v1/customers", "", nil)
	if n := len(list["data"].([]any)); n != 1 {
		t.Errorf("%d customers after refused requests, want 1", n)
	}
	if types := env.eventTypes(); len(types) != 1 {
		t.Errorf("events %v after refused requests, want only customer.created", types)
	}
}

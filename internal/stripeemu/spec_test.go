package stripeemu_test

import (
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
)

// TestIntentStatesAsStripeSendsThem drives the PaymentIntent and SetupIntent
// states that the store's flows do not reach: newEnv checks every answer
// against Stripe's spec (stripespec), next_action and a canceled SetupIntent
// included.
func TestIntentStatesAsStripeSendsThem(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	env := newEnv(t, stripeemu.Options{Now: clock.Now})
	cus, _ := completedSetupWith(t, env, "4000002500003155")
	_, _, list := env.do("GET", "/v1/customers/"+cus.ID+"/payment_methods", "", nil)
	pm := list["data"].([]any)[0].(map[string]any)["id"].(string)

	steps := []struct {
		name, method, path, body, wantStatus string
	}{
		{"customer present, 3-D Secure asked", "POST", "/v1/payment_intents",
			"amount=500&currency=usd&payment_method_types[]=card&confirm=true&customer=" + cus.ID + "&payment_method=" + pm, "requires_action"},
		{"with a card, not confirmed", "POST", "/v1/payment_intents",
			"amount=500&currency=usd&payment_method_types[]=card&customer=" + cus.ID + "&payment_method=" + pm, "requires_confirmation"},
	}
	for _, s := range steps {
		code, _, m := env.do(s.method, s.path, s.body, nil)
		if code != 200 || m["status"] != s.wantStatus {
			t.Errorf("%s: %d %v, want status %s", s.name, code, m, s.wantStatus)
			continue
		}
		if code, _, m := env.do("POST", "/v1/payment_intents/"+m["id"].(string)+"/cancel", "cancellation_reason=abandoned", nil); code != 200 || m["status"] != "canceled" {
			t.Errorf("%s, canceled: %d %v", s.name, code, m)
		}
	}

	// A setup session that expires cancels its SetupIntent.
	open := env.setupSession(cus.ID)
	clock.Add(25 * time.Hour)
	code, _, m := env.do("GET", "/v1/checkout/sessions/"+open.ID+"?expand[]=setup_intent", "", nil)
	si, _ := m["setup_intent"].(map[string]any)
	if code != 200 || m["status"] != "expired" || si["status"] != "canceled" {
		t.Errorf("expired session: %d %v", code, m)
	}
}

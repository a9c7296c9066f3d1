package stripeemu_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

func objectEmail(ev stripe.Event) string {
	s, _ := ev.Data.Object["email"].(string)
	return s
}

func TestWebhookSignedDelivery(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, nil)
	env := newEnv(t, stripeemu.Options{WebhookURL: hook.srv.URL})
	cus := env.customer("a@example.com")

	waitFor(t, 5*time.Second, "customer.created delivery", func() bool { return len(hook.events()) == 1 })
	ev := hook.events()[0]
	if ev.Type != "customer.created" || ev.Data.Object["id"] != cus.ID || ev.APIVersion != stripe.APIVersion || ev.PendingWebhooks != 1 {
		t.Fatalf("delivered event = %+v", ev)
	}
	if hook.bad != 0 {
		t.Fatalf("%d deliveries failed signature or header checks", hook.bad)
	}
	// The emulator records the attempt just after the receiver has answered.
	waitFor(t, time.Second, "delivery record", func() bool { return len(env.emu.Deliveries()) == 1 })
	d := env.emu.Deliveries()
	if len(d) != 1 || !d[0].OK() || d[0].Attempt != 1 || d[0].EventID != ev.ID || d[0].StatusCode != 200 {
		t.Fatalf("deliveries = %+v", d)
	}
	// Once acknowledged, the event has no pending webhooks left.
	waitFor(t, time.Second, "pending_webhooks 0", func() bool {
		got, err := env.sc.Events.Get(ev.ID, nil)
		return err == nil && got.PendingWebhooks == 0
	})

	// Sign is exactly what stripe-go's verifier expects.
	body := []byte(`{"id":"evt_1","object":"event","api_version":"` + stripe.APIVersion + `"}`)
	if _, err := webhook.ConstructEvent(body, stripeemu.Sign(body, testSecret, time.Now()), testSecret); err != nil {
		t.Fatalf("Sign does not verify: %v", err)
	}
	if err := webhook.ValidatePayload(body, stripeemu.Sign(body, "whsec_other", time.Now()), testSecret); err == nil {
		t.Fatal("a signature with another secret verified")
	}
}

func TestWebhookRetriesUntilAcknowledged(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	hook := newHookReceiver(t, func(ev stripe.Event) int {
		mu.Lock()
		defer mu.Unlock()
		seen[ev.ID]++
		if seen[ev.ID] <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	env := newEnv(t, stripeemu.Options{WebhookURL: hook.srv.URL})
	env.customer("a@example.com")

	waitFor(t, 5*time.Second, "three attempts", func() bool { return len(hook.events()) >= 3 })
	// Give a wrong fourth attempt time to show up, and the third its record.
	time.Sleep(150 * time.Millisecond)
	got := hook.events()
	if len(got) != 3 || got[0].ID != got[2].ID {
		t.Fatalf("delivered %d times, want 3 of one event", len(got))
	}
	d := env.emu.Deliveries()
	if len(d) != 3 || d[0].StatusCode != 500 || d[1].StatusCode != 500 || !d[2].OK() || d[2].Attempt != 3 {
		t.Fatalf("deliveries = %+v", d)
	}
	if d[0].Err == nil || d[1].At.Sub(d[0].At) < 10*time.Millisecond || d[2].At.Sub(d[1].At) < 20*time.Millisecond {
		t.Errorf("retries not backed off: %v, %v", d[1].At.Sub(d[0].At), d[2].At.Sub(d[1].At))
	}
}

func TestWebhookFailingEventDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hook := newHookReceiver(t, func(ev stripe.Event) int {
		if objectEmail(ev) == "a@example.com" {
			// Event A hangs, then fails, every time.
			select {
			case <-release:
			case <-time.After(2 * time.Second):
			}
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	env := newEnv(t, stripeemu.Options{WebhookURL: hook.srv.URL, DeliveryTimeout: 3 * time.Second})
	env.customer("a@example.com")
	time.Sleep(20 * time.Millisecond) // A's first attempt is in flight
	start := time.Now()
	b := env.customer("b@example.com")

	waitFor(t, 1500*time.Millisecond, "event B", func() bool {
		for _, d := range env.emu.Deliveries() {
			if d.OK() {
				return true
			}
		}
		return false
	})
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("event B waited %v behind event A", waited)
	}
	for _, d := range env.emu.Deliveries() {
		if d.OK() {
			ev, err := env.sc.Events.Get(d.EventID, nil)
			if err != nil || ev.Data.Object["id"] != b.ID {
				t.Errorf("the delivered event is not B's: %v", err)
			}
		}
	}
	close(release)
	// Close abandons A's retries and returns promptly.
	done := make(chan struct{})
	go func() { env.emu.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestSetWebhookEndpoint(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, nil)
	env := newEnv(t, stripeemu.Options{})
	env.customer("dropped@example.com") // no endpoint: not delivered
	env.emu.SetWebhookEndpoint(hook.srv.URL)
	env.customer("kept@example.com")
	waitFor(t, 5*time.Second, "delivery", func() bool { return len(hook.events()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if got := hook.events(); len(got) != 1 || objectEmail(got[0]) != "kept@example.com" {
		t.Fatalf("delivered = %v", got)
	}
}

func TestCloseStopsRetries(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, func(stripe.Event) int { return http.StatusInternalServerError })
	env := newEnv(t, stripeemu.Options{WebhookURL: hook.srv.URL, RetryBase: time.Hour, RetryMax: time.Hour})
	env.customer("a@example.com")
	waitFor(t, 5*time.Second, "first attempt", func() bool { return len(env.emu.Deliveries()) == 1 })
	start := time.Now()
	env.emu.Close()
	if time.Since(start) > time.Second {
		t.Fatalf("Close waited %v for a retry an hour away", time.Since(start))
	}
	// The API still answers after Close; nothing more is delivered.
	env.customer("b@example.com")
	time.Sleep(50 * time.Millisecond)
	if n := len(env.emu.Deliveries()); n != 1 {
		t.Fatalf("%d deliveries after Close", n)
	}
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, func(stripe.Event) int { return http.StatusBadGateway })
	env := newEnv(t, stripeemu.Options{WebhookURL: hook.srv.URL, MaxAttempts: 3, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond})
	env.customer("a@example.com")
	waitFor(t, 5*time.Second, "three attempts", func() bool { return len(env.emu.Deliveries()) == 3 })
	time.Sleep(50 * time.Millisecond)
	if n := len(hook.events()); n != 3 {
		t.Fatalf("%d attempts, want MaxAttempts=3", n)
	}
	ev, err := env.sc.Events.Get(hook.events()[0].ID, nil)
	if err != nil || ev.PendingWebhooks != 1 {
		t.Fatalf("pending_webhooks after giving up: %v %d", err, ev.PendingWebhooks)
	}
}

// TestWebhookEnabledEvents: an endpoint that takes some types gets those
// and no others; the rest are still listed, with no webhook pending.
func TestWebhookEnabledEvents(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, nil)
	env := newEnv(t, stripeemu.Options{WebhookURL: hook.srv.URL, EnabledEvents: []string{"customer.updated"}})
	cus := env.customer("enabled@example.com")
	if _, err := env.sc.Customers.Update(cus.ID, &stripe.CustomerParams{Email: stripe.String("still@example.com")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "customer.updated delivery", func() bool { return len(hook.events()) == 1 })
	if got := hook.events()[0].Type; got != "customer.updated" {
		t.Errorf("delivered %s, want only customer.updated", got)
	}
	if types := env.eventTypes(); len(types) != 2 {
		t.Errorf("events listed: %v, want customer.created and customer.updated", types)
	}
	for _, d := range env.emu.Deliveries() {
		if d.EventType != "customer.updated" {
			t.Errorf("a %s was delivered", d.EventType)
		}
	}
}

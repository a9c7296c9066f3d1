package stripeemu_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

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

// hookClock is a clock that runs a hook at its n-th reading, so a test can
// hold a request inside its endpoint (or make the endpoint fail) at a known
// point. Each API request reads it once before its endpoint runs (the
// idempotency layer) and POST /v1/checkout/sessions once inside, before it
// takes the emulator's lock.
type hookClock struct {
	mu    sync.Mutex
	calls int
	hooks map[int]func()
}

func (c *hookClock) Now() time.Time {
	c.mu.Lock()
	c.calls++
	hook := c.hooks[c.calls]
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
}

// A request whose idempotency key is still in flight gets Stripe's 409
// idempotency_error at once instead of waiting; once the first finished, a
// repeat replays it.
func TestIdempotencyKeyInFlightIsAConflict(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	clock := &hookClock{hooks: map[int]func(){2: func() { close(entered); <-release }}}
	env := newEnv(t, stripeemu.Options{Now: clock.Now})
	hdr := map[string]string{"Idempotency-Key": "k-flight"}
	type answer struct {
		code int
		m    map[string]any
	}
	first := make(chan answer, 1)
	go func() {
		code, _, m := env.do("POST", "/v1/checkout/sessions", sessionBody, hdr)
		first <- answer{code, m}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached its endpoint")
	}
	code, h, m := env.do("POST", "/v1/checkout/sessions", sessionBody, hdr)
	close(release)
	errObj, _ := m["error"].(map[string]any)
	if code != http.StatusConflict || errObj["type"] != "idempotency_error" || h.Get("Idempotent-Replayed") != "" {
		t.Errorf("repeat while in flight = %d %v, want 409 idempotency_error", code, m)
	}
	a := <-first
	if a.code != http.StatusOK {
		t.Fatalf("first request = %d %v", a.code, a.m)
	}
	code, h, m = env.do("POST", "/v1/checkout/sessions", sessionBody, hdr)
	if code != http.StatusOK || m["id"] != a.m["id"] || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat after the first finished = %d %v replayed=%q, want %v replayed", code, m["id"], h.Get("Idempotent-Replayed"), a.m["id"])
	}
}

// Stripe saves a 5xx answer under its idempotency key and replays it, so a
// retry with the same key never runs the request a second time.
func TestIdempotencyReplaysServerErrors(t *testing.T) {
	clock := &hookClock{hooks: map[int]func(){2: func() { panic("endpoint failure for the test") }}}
	env := newEnv(t, stripeemu.Options{Now: clock.Now})
	hdr := map[string]string{"Idempotency-Key": "k-500"}
	code, _, m := env.do("POST", "/v1/checkout/sessions", sessionBody, hdr)
	if code != http.StatusInternalServerError {
		t.Fatalf("first = %d %v, want 500", code, m)
	}
	code, h, m := env.do("POST", "/v1/checkout/sessions", sessionBody, hdr)
	if code != http.StatusInternalServerError || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry with the key = %d %v replayed=%q, want the saved 500", code, m, h.Get("Idempotent-Replayed"))
	}
	if code, _, m := env.do("POST", "/v1/checkout/sessions", sessionBody, map[string]string{"Idempotency-Key": "k-other"}); code != http.StatusOK {
		t.Errorf("another key = %d %v, want 200", code, m)
	}
}

const sessionBody = "mode=setup&currency=usd&success_url=https%3A%2F%2Fshop.example%2Fok"

// An off-session charge that the issuer declines for want of authentication
// leaves a failed Charge on Stripe, as any decline does.
func TestOffSessionAuthenticationRequiredLeavesAFailedCharge(t *testing.T) {
	env := newEnv(t, stripeemu.Options{})
	cus, _ := completedSetupWith(t, env, "4000002760003184")
	pms := env.sc.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID), Type: stripe.String("card")})
	if !pms.Next() {
		t.Fatal("no saved card")
	}
	_, err := env.chargeOffSession(cus.ID, pms.PaymentMethod().ID, 1099)
	se := stripeErr(t, err)
	if se.Code != stripe.ErrorCodeAuthenticationRequired || se.ChargeID == "" || se.PaymentIntent == nil {
		t.Fatalf("error = code %s charge %q, want authentication_required with a charge", se.Code, se.ChargeID)
	}
	ch, err := env.sc.Charges.Get(se.ChargeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Status != stripe.ChargeStatusFailed || ch.FailureCode != "authentication_required" || ch.Outcome == nil || ch.Outcome.Reason != "authentication_required" {
		t.Errorf("charge = status %s failure %s outcome %+v, want failed for authentication_required", ch.Status, ch.FailureCode, ch.Outcome)
	}
	pi, err := env.sc.PaymentIntents.Get(se.PaymentIntent.ID, nil)
	if err != nil || pi.LatestCharge == nil || pi.LatestCharge.ID != ch.ID || pi.LastPaymentError == nil || pi.LastPaymentError.ChargeID != ch.ID {
		t.Errorf("payment intent = %+v (err %v), want latest_charge and last_payment_error.charge %s", pi, err, ch.ID)
	}
	if types := env.eventTypes(); !inOrder(types, []string{"charge.failed", "payment_intent.payment_failed"}) {
		t.Errorf("events = %v, want charge.failed then payment_intent.payment_failed", types)
	}
}

// Sessions past expires_at expire by themselves, as on Stripe: the endpoint
// hears checkout.session.expired though nobody read the session.
func TestSessionsExpireWithoutBeingRead(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	hook := newHookReceiver(t, nil)
	env := newEnv(t, stripeemu.Options{Now: clock.Now, WebhookURL: hook.srv.URL, SessionSweep: 5 * time.Millisecond})
	sess := env.setupSession("")
	clock.Add(24*time.Hour + time.Second)
	// Deliveries are concurrent: wait for both events the expiry causes.
	waitFor(t, 10*time.Second, "checkout.session.expired and setup_intent.canceled", func() bool {
		return contains(eventTypesOf(hook.events()), "checkout.session.expired") && contains(eventTypesOf(hook.events()), "setup_intent.canceled")
	})
	for _, ev := range hook.events() {
		var s stripe.CheckoutSession
		if ev.Type == "checkout.session.expired" && (json.Unmarshal(ev.Data.Raw, &s) != nil || s.ID != sess.ID || s.Status != stripe.CheckoutSessionStatusExpired) {
			t.Errorf("checkout.session.expired carries %s status %s, want %s expired", s.ID, s.Status, sess.ID)
		}
	}
}

func eventTypesOf(evs []stripe.Event) []string {
	var types []string
	for _, ev := range evs {
		types = append(types, string(ev.Type))
	}
	return types
}

// The test-only controls make a saved card's next off-session charge fail
// and play the card account updater; only the emulator's own key reaches them.
func TestTestControls(t *testing.T) {
	env := newEnv(t, stripeemu.Options{SecretKey: "sk_test_123"})
	cus, _ := completedSetupWith(t, env, "4242424242424242")
	pms := env.sc.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID), Type: stripe.String("card")})
	if !pms.Next() {
		t.Fatal("no saved card")
	}
	pmID := pms.PaymentMethod().ID
	base := "/_test/payment_methods/" + pmID

	if code, _, m := env.do("POST", base+"/decline_next", "decline_code=insufficient_funds", nil); code != http.StatusOK {
		t.Fatalf("decline_next = %d %v", code, m)
	}
	_, err := env.chargeOffSession(cus.ID, pmID, 1099)
	if se := stripeErr(t, err); se.Code != stripe.ErrorCodeCardDeclined || se.DeclineCode != "insufficient_funds" || se.ChargeID == "" {
		t.Errorf("charge after decline_next = %s/%s charge %q, want card_declined/insufficient_funds", se.Code, se.DeclineCode, se.ChargeID)
	}
	if pi, err := env.chargeOffSession(cus.ID, pmID, 1099); err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Errorf("the charge after = %v, %v; want succeeded (decline_next is for one charge)", pi, err)
	}

	if code, _, m := env.do("POST", base+"/update_expiry", "exp_month=3&exp_year=2031", nil); code != http.StatusOK {
		t.Fatalf("update_expiry = %d %v", code, m)
	}
	pm, err := env.sc.PaymentMethods.Get(pmID, nil)
	if err != nil || pm.Card.ExpMonth != 3 || pm.Card.ExpYear != 2031 {
		t.Errorf("card after update_expiry = %v (err %v), want 3/2031", pm, err)
	}
	if types := env.eventTypes(); !contains(types, "payment_method.automatically_updated") {
		t.Errorf("events = %v, want payment_method.automatically_updated", types)
	}

	for _, tc := range []struct {
		path, body, key string
		want            int
	}{
		{base + "/decline_next", "decline_code=nonsense", "", http.StatusBadRequest},
		{base + "/decline_next", "", "", http.StatusBadRequest},
		{base + "/update_expiry", "exp_month=13&exp_year=2031", "", http.StatusBadRequest},
		{"/_test/payment_methods/pm_missing/decline_next", "decline_code=lost_card", "", http.StatusNotFound},
		{base + "/explode", "", "", http.StatusNotFound},
		{base + "/decline_next", "decline_code=lost_card", "Bearer sk_test_other", http.StatusUnauthorized},
	} {
		hdr := map[string]string{}
		if tc.key != "" {
			hdr["Authorization"] = tc.key
		}
		if code, _, m := env.do("POST", tc.path, tc.body, hdr); code != tc.want {
			t.Errorf("POST %s %q = %d %v, want %d", tc.path, tc.body, code, m, tc.want)
		}
	}
	// An emulator without a key of its own has no controls.
	open := newEnv(t, stripeemu.Options{})
	if code, _, _ := open.do("POST", base+"/decline_next", "decline_code=lost_card", nil); code != http.StatusNotFound {
		t.Errorf("controls without Options.SecretKey = %d, want 404", code)
	}
}

// By default a failing endpoint is retried on Stripe's schedule shape:
// exponential backoff, hours apart, for up to 3 days (tests shorten it).
func TestWebhookRetriesFollowStripesScheduleByDefault(t *testing.T) {
	emu := stripeemu.New(stripeemu.Options{})
	defer emu.Close()
	var total time.Duration
	sched := emu.RetrySchedule()
	for i, d := range sched {
		if i > 0 && d < sched[i-1] {
			t.Errorf("delay %d (%s) shorter than the one before (%s)", i, d, sched[i-1])
		}
		total += d
	}
	if sched[0] < time.Minute || sched[len(sched)-1] < 6*time.Hour {
		t.Errorf("schedule %v: want minutes at first, hours apart at the end", sched)
	}
	if total < 48*time.Hour || total > 72*time.Hour {
		t.Errorf("retries span %s, want between 2 and 3 days", total)
	}
}

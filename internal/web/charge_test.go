package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit"
)

// recordedCard saves a card through the store and its success page.
func (h *harness) recordedCard(email, number string) billing.PaymentMethod {
	h.t.Helper()
	id := h.savedCard(email, number)
	if res := h.get("/success?session_id=" + id); res.status != http.StatusOK {
		h.t.Fatalf("success: %d", res.status)
	}
	pm, err := h.db.SessionPaymentMethod(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return pm
}

// adminPost posts an admin action as confirmed (confirm=yes), as the
// confirmation's button does; adminAsk posts it as the first press does.
func (h *harness) adminPost(path string, form url.Values) response {
	h.t.Helper()
	confirmed := url.Values{"confirm": {"yes"}}
	for k, v := range form {
		confirmed[k] = v
	}
	return h.adminAsk(path, confirmed)
}

func (h *harness) adminAsk(path string, form url.Values) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", adminPassword)
	return h.do(req)
}

// chargeCard posts the admin's charge form and returns the attempt it redirected to.
func (h *harness) chargeCard(pmID, amount, currency string) billing.ChargeAttempt {
	h.t.Helper()
	res := h.adminPost("/admin/charges", url.Values{
		"payment_method": {pmID}, "amount": {amount}, "currency": {currency}, "key": {billing.NewIdempotencyKey()},
	})
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/admin/charges/") {
		h.t.Fatalf("charge: %d %q %s", res.status, res.location, res.body)
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(res.location, "/admin/charges/"), 10, 64)
	page := h.admin(res.location, "admin", adminPassword)
	attempt, err := h.svc.ChargeAttempt(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	if !strings.Contains(page.body, `id="charge-status" data-status="`+attempt.Status+`"`) {
		h.t.Errorf("the outcome page does not show %q", attempt.Status)
	}
	return attempt
}

func (h *harness) notifications() []billing.Notification {
	h.t.Helper()
	list, err := h.db.Notifications(context.Background(), billing.OutboxQuery{Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// stripeCount counts objects of a kind on the emulator.
func (h *harness) stripeCount(path string) int {
	h.t.Helper()
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(h.emuGet(path+"?limit=100")), &list); err != nil {
		h.t.Fatal(err)
	}
	return len(list.Data)
}

func TestChargeSucceeds(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("pay@example.com", "4242424242424242")
	a := h.chargeCard(pm.ID, "10.99", "usd")
	if a.Status != billing.ChargeSucceeded || !strings.HasPrefix(a.PaymentIntentID, "pi_") || a.Money != (billing.Money{Amount: 1099, Currency: "usd"}) ||
		a.FailureCode != "" || a.PaymentMethodID != pm.ID || a.CustomerID != pm.CustomerID {
		t.Errorf("attempt %+v", a)
	}
	if n := len(h.notifications()); n != 0 {
		t.Errorf("%d notifications for a successful charge", n)
	}
	if res := h.admin("/admin/customers/"+strconv.FormatInt(pm.CustomerID, 10), "admin", adminPassword); !strings.Contains(res.body, "succeeded") || !strings.Contains(res.body, "$10.99") {
		t.Errorf("the customer page does not list the charge")
	}
}

// TestFailedChargeIsRecovered: a declined or authentication-requiring card,
// the customer's link, a new card paid on Stripe's page, the attempt
// recovered and the new card the default; through the return page for one
// card and the webhook for the other.
func TestFailedChargeIsRecovered(t *testing.T) {
	cases := []struct {
		card, status, code, declineCode string
		viaWebhook                      bool
	}{
		{"4000000000000341", billing.ChargeDeclined, "card_declined", "generic_decline", false},
		{"4000002760003184", billing.ChargeAuthenticationRequired, "authentication_required", "authentication_required", true},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			old := h.recordedCard("rec@example.com", tc.card)
			a := h.chargeCard(old.ID, "25.00", "usd")
			if a.Status != tc.status || a.FailureCode != tc.code || a.DeclineCode != tc.declineCode || !strings.HasPrefix(a.PaymentIntentID, "pi_") {
				t.Fatalf("attempt %+v, want %s %s/%s", a, tc.status, tc.code, tc.declineCode)
			}
			outbox := h.notifications()
			if len(outbox) != 1 || outbox[0].ChargeAttemptID != a.ID || outbox[0].Recipient != "rec@example.com" || !strings.Contains(outbox[0].Body, outbox[0].Link) {
				t.Fatalf("outbox %+v", outbox)
			}
			link := strings.TrimPrefix(outbox[0].Link, h.store.URL)

			first := h.get(link)
			again := h.get(link)
			if first.status != http.StatusSeeOther || again.location != first.location || !strings.HasPrefix(first.location, h.stripeServer.URL+"/c/pay/cs_test_") {
				t.Fatalf("link: %d %q then %q; want one payment session, reused", first.status, first.location, again.location)
			}
			sessionID := first.location[strings.LastIndex(first.location, "/")+1:]
			h.completeWith(sessionID, "5555555555554444", "rec@example.com")

			if tc.viaWebhook {
				completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
				for _, e := range h.stripeEvents() {
					if e.Type == billing.EventCheckoutSessionCompleted && e.ObjectID == sessionID {
						completed = e
					}
				}
				if res := h.deliver(completed); res.status != http.StatusOK {
					t.Fatalf("webhook: %d", res.status)
				}
			}
			res := h.get("/pay/complete?session_id=" + sessionID)
			if res.status != http.StatusOK || !strings.Contains(res.body, "Payment received") || !strings.Contains(res.body, "$25.00") {
				t.Errorf("return page: %d %s", res.status, res.body)
			}

			a, _ = h.svc.ChargeAttempt(ctx, a.ID)
			if a.Status != billing.ChargeRecovered || a.RecoveredAt.IsZero() || a.RecoverySessionID != sessionID {
				t.Errorf("attempt after paying: %+v", a)
			}
			customer, _ := h.db.Customer(ctx, old.CustomerID)
			newCard, err := h.db.SavedPaymentMethod(ctx, customer.DefaultPaymentMethodID)
			if err != nil || newCard.ID == old.ID || newCard.Last4 != "4444" || newCard.Status != billing.PaymentMethodActive || newCard.CustomerID != customer.ID {
				t.Errorf("default card %+v, %v; want the new 4444 card", newCard, err)
			}
			var onStripe stripe.Customer
			if err := json.Unmarshal([]byte(h.emuGet("/v1/customers/"+customer.StripeID)), &onStripe); err != nil ||
				onStripe.InvoiceSettings == nil || onStripe.InvoiceSettings.DefaultPaymentMethod == nil || onStripe.InvoiceSettings.DefaultPaymentMethod.ID != newCard.ID {
				t.Errorf("Stripe's default for %s is not %s: %v", customer.StripeID, newCard.ID, err)
			}
			if n := h.stripeCount("/v1/checkout/sessions"); n != 2 {
				t.Errorf("%d sessions on Stripe, want the setup one and one recovery", n)
			}
			if paid := h.get(link); paid.status != http.StatusConflict || !strings.Contains(paid.body, "Already paid") {
				t.Errorf("the link after paying: %d, want the already-paid page", paid.status)
			}
			// The next off-session charge uses the new default card and succeeds.
			if next := h.chargeCard(customer.DefaultPaymentMethodID, "5", "usd"); next.Status != billing.ChargeSucceeded {
				t.Errorf("charge of the new default: %s", next.Status)
			}
		})
	}
}

func TestRecoveryTokensStayOutOfTheLogs(t *testing.T) {
	var logs testkit.SyncBuffer
	h := newHarnessWithLog(t, slog.New(slog.NewTextHandler(&logs, nil)))
	pm := h.recordedCard("log@example.com", "4000000000000341")
	h.chargeCard(pm.ID, "10", "usd")
	link := h.notifications()[0].Link
	token := link[strings.LastIndex(link, "/")+1:]
	h.get(strings.TrimPrefix(link, h.store.URL))
	if !strings.Contains(logs.String(), "path=/pay/{token}") || strings.Contains(logs.String(), token) {
		t.Errorf("the request log should name the route, not the token:\n%s", logs.String())
	}
}

func TestRecoveryLinksThatCannotBePaid(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("lnk@example.com", "4000000000000341")
	a := h.chargeCard(pm.ID, "10", "usd")
	link := strings.TrimPrefix(h.notifications()[0].Link, h.store.URL)
	token := strings.TrimPrefix(link, "/pay/")
	tampered := "/pay/" + token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(token, "AA")]
	// A link issued by the same store a week and a day ago.
	key, err := h.db.Secret(context.Background(), billing.RecoveryKeyName)
	if err != nil {
		t.Fatal(err)
	}
	lastWeek := billing.NewService(h.db, h.gateway, billing.Options{
		BaseURL: h.store.URL, RecoveryKey: key, Now: func() time.Time { return time.Now().Add(-billing.RecoveryLinkTTL - 24*time.Hour) },
	})
	expired := lastWeek.RecoveryLink(a.ID)
	succeeded := h.chargeCard(h.recordedCard("ok@example.com", "4242424242424242").ID, "10", "usd")

	cases := map[string]struct {
		path string
		want int
		text string
	}{
		"tampered":          {tampered, http.StatusNotFound, "not valid"},
		"garbage":           {"/pay/%27%3Bdrop", http.StatusNotFound, "not valid"},
		"expired":           {strings.TrimPrefix(expired, h.store.URL), http.StatusGone, "expired"},
		"succeeded attempt": {strings.TrimPrefix(h.svc.RecoveryLink(succeeded.ID), h.store.URL), http.StatusConflict, "Already paid"},
		"no such attempt":   {strings.TrimPrefix(h.svc.RecoveryLink(999999), h.store.URL), http.StatusNotFound, "not valid"},
	}
	sessions := h.stripeCount("/v1/checkout/sessions")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := h.get(tc.path)
			if res.status != tc.want || !strings.Contains(res.body, tc.text) {
				t.Errorf("%d, want %d with %q", res.status, tc.want, tc.text)
			}
		})
	}
	if n := h.stripeCount("/v1/checkout/sessions"); n != sessions {
		t.Errorf("bad links made %d Checkout Sessions", n-sessions)
	}
}

// TestCrashBetweenStripeAndCommitChargesOnce: Stripe answers, our commit
// fails; the retry sends the stored key and gets the same PaymentIntent.
func TestCrashBetweenStripeAndCommitChargesOnce(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{})
	h, proxy := newStoreBehindProxy(t, stripe)
	pm := h.recordedCard("crash@example.com", "4242424242424242")

	crash := func(r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" {
			proxy.Down()
		}
	}
	stripe.answered.Store(&crash)
	attempt, err := h.svc.Charge(asStaff(), billing.ChargeRequest{PaymentMethodID: pm.ID, Amount: "42.00", Currency: "usd"})
	stripe.answered.Store(nil)
	proxy.Up()
	if err == nil || attempt.ID == 0 {
		t.Fatalf("Charge with the commit failing: %+v, %v; want the attempt and an error", attempt, err)
	}
	stored, _ := h.svc.ChargeAttempt(context.Background(), attempt.ID)
	if stored.Status != billing.ChargeProcessing {
		t.Fatalf("attempt after the crash: %s, want processing", stored.Status)
	}

	retried, err := h.svc.RetryCharge(asStaff(), attempt.ID)
	if err != nil {
		t.Fatal(err)
	}
	var intents struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(h.emuGet("/v1/payment_intents?limit=100")), &intents) //nolint:errcheck
	if len(intents.Data) != 1 {
		t.Fatalf("%d PaymentIntents on Stripe, want 1", len(intents.Data))
	}
	if retried.Status != billing.ChargeSucceeded || retried.PaymentIntentID != intents.Data[0].ID {
		t.Errorf("retried %+v, want succeeded with %s", retried, intents.Data[0].ID)
	}
}

// TestADeclineLostToACrashStillReachesTheCustomer: Stripe declines, our
// commit fails, so the charge's answer is lost; the decline then arrives
// from Stripe's events (the reconciliation's sync here, a webhook as well)
// and sets going what the answer would have: for a soft decline the
// dunning, for a hard one the customer's message with its recovery link,
// as for the same decline answered without a crash.
func TestADeclineLostToACrashStillReachesTheCustomer(t *testing.T) {
	for name, declineCode := range map[string]string{"soft decline": "insufficient_funds", "hard decline": "stolen_card"} {
		t.Run(name, func(t *testing.T) {
			stripe := newStripe(t, stripeemu.Options{SecretKey: emulatorKey})
			h, proxy := newStoreBehindProxy(t, stripe)
			card := func(email string) billing.PaymentMethod {
				pm := h.recordedCard(email, "4242424242424242")
				h.declineNext(pm.ID, declineCode)
				return pm
			}
			answered, err := h.svc.Charge(asStaff(), billing.ChargeRequest{
				PaymentMethodID: card("answered@example.com").ID, Amount: "42.00", Currency: "usd"})
			if err != nil || answered.Status != billing.ChargeDeclined {
				t.Fatalf("the charge answered: %+v, %v; want declined", answered, err)
			}

			crash := func(r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" {
					proxy.Down()
				}
			}
			pm := card("lost@example.com")
			stripe.answered.Store(&crash)
			lost, err := h.svc.Charge(asStaff(), billing.ChargeRequest{PaymentMethodID: pm.ID, Amount: "42.00", Currency: "usd"})
			stripe.answered.Store(nil)
			proxy.Up()
			if err == nil || h.attempt(lost.ID).Status != billing.ChargeProcessing {
				t.Fatalf("the charge whose answer was lost: %+v, %v; want it processing", h.attempt(lost.ID), err)
			}
			if _, err := h.svc.Sync(context.Background(), time.Hour); err != nil {
				t.Fatal(err)
			}

			got, want := h.attempt(lost.ID), h.attempt(answered.ID)
			messages := func(a billing.ChargeAttempt) (n int) {
				for _, m := range h.notifications() {
					if m.ChargeAttemptID == a.ID && m.Kind == billing.NotificationPaymentFailed {
						n++
					}
				}
				return n
			}
			if got.Status != want.Status || got.Dunning.Status != want.Dunning.Status || messages(got) != messages(want) {
				t.Errorf("after the sync: %s, dunning %q, %d messages; answered: %s, dunning %q, %d messages",
					got.Status, got.Dunning.Status, messages(got), want.Status, want.Dunning.Status, messages(want))
			}
			if messages(want)+len(want.Dunning.Status) == 0 {
				t.Errorf("the answered decline set nothing going: the test proves nothing")
			}
		})
	}
}

// TestRetryRefusedOnceStripeForgetsTheKey: past Stripe's 24 hours a resend
// could charge again, so an old attempt of unknown outcome is not resent.
func TestRetryRefusedOnceStripeForgetsTheKey(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("old@example.com", "4242424242424242")
	var id int64
	err := h.db.Pool().QueryRow(context.Background(), `
		INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, created_at)
		VALUES ($1, $2, 1000, 'usd', 'an-old-key-of-unknown-outcome', now() - interval '25 hours') RETURNING id`,
		pm.CustomerID, pm.ID).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	res := h.adminPost("/admin/charges/"+strconv.FormatInt(id, 10)+"/retry", nil)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "dashboard") {
		t.Errorf("retry of a 25-hour-old attempt: %d", res.status)
	}
	if n := h.stripeCount("/v1/payment_intents"); n != 0 {
		t.Errorf("%d PaymentIntents created", n)
	}
}

func TestDoubleSubmittedChargeFormChargesOnce(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("dbl@example.com", "4242424242424242")
	form := url.Values{"payment_method": {pm.ID}, "amount": {"9.99"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()}}
	var wg sync.WaitGroup
	locations := make([]string, 5)
	for i := range locations {
		wg.Go(func() { locations[i] = h.adminPost("/admin/charges", form).location })
	}
	wg.Wait()
	for _, l := range locations {
		if l != locations[0] {
			t.Errorf("submits led to different attempts: %v", locations)
		}
	}
	if n := h.count("charge_attempts"); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	if n := h.stripeCount("/v1/payment_intents"); n != 1 {
		t.Errorf("%d PaymentIntents, want 1", n)
	}
	// The back button, another amount, the same form: refused, not a silent old outcome.
	form.Set("amount", "19.99")
	if res := h.adminPost("/admin/charges", form); res.status != http.StatusBadRequest || !strings.Contains(res.body, "already used") {
		t.Errorf("reused form with another amount: %d", res.status)
	}
	if n := h.stripeCount("/v1/payment_intents"); n != 1 {
		t.Errorf("%d PaymentIntents after the reused form, want 1", n)
	}
}

func TestBadChargeInputCallsNoStripe(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("bad@example.com", "4242424242424242")
	calls := h.gateway.Calls()[stripeapi.OpCreatePaymentIntent]
	cases := map[string]url.Values{
		"below minimum":  {"payment_method": {pm.ID}, "amount": {"0.49"}, "currency": {"usd"}},
		"exponent":       {"payment_method": {pm.ID}, "amount": {"1e3"}, "currency": {"usd"}},
		"negative":       {"payment_method": {pm.ID}, "amount": {"-5"}, "currency": {"usd"}},
		"three decimals": {"payment_method": {pm.ID}, "amount": {"10.999"}, "currency": {"usd"}},
		"empty":          {"payment_method": {pm.ID}, "amount": {""}, "currency": {"usd"}},
		"huge":           {"payment_method": {pm.ID}, "amount": {"100000000000000000000"}, "currency": {"usd"}},
		"yen decimals":   {"payment_method": {pm.ID}, "amount": {"500.5"}, "currency": {"jpy"}},
		"currency":       {"payment_method": {pm.ID}, "amount": {"10"}, "currency": {"dollars"}},
		"unknown card":   {"payment_method": {"pm_doesNotExist"}, "amount": {"10"}, "currency": {"usd"}},
		"malformed card": {"payment_method": {"card 1"}, "amount": {"10"}, "currency": {"usd"}},
	}
	for name, form := range cases {
		t.Run(name, func(t *testing.T) {
			form.Set("key", billing.NewIdempotencyKey())
			res := h.adminPost("/admin/charges", form)
			shown := strings.Contains(res.body, `class="error"`) || strings.Contains(res.body, "That did not work")
			if res.status != http.StatusBadRequest || !shown {
				t.Errorf("status %d, want 400 with a message", res.status)
			}
		})
	}
	if n := h.count("charge_attempts"); n != 0 {
		t.Errorf("%d attempts from bad input", n)
	}
	if n := h.gateway.Calls()[stripeapi.OpCreatePaymentIntent] - calls; n != 0 {
		t.Errorf("%d PaymentIntents created from bad input", n)
	}
	// A good yen amount is taken as whole yen.
	if a := h.chargeCard(pm.ID, "500", "jpy"); a.Money != (billing.Money{Amount: 500, Currency: "jpy"}) || a.Status != billing.ChargeSucceeded {
		t.Errorf("jpy 500: %+v", a)
	}
}

func TestChargeEndpointNeedsAuthAndSameOrigin(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("csrf@example.com", "4242424242424242")
	form := url.Values{"confirm": {"yes"}, "payment_method": {pm.ID}, "amount": {"10"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()}}
	post := func(user, password string, crossSite bool) int {
		req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/admin/charges", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		if crossSite {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Origin", "https://evil.example")
		}
		return h.do(req).status
	}
	if got := post("", "", false); got != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", got)
	}
	if got := post("admin", "wrong", false); got != http.StatusUnauthorized {
		t.Errorf("wrong credentials: %d", got)
	}
	if got := post("admin", adminPassword, true); got != http.StatusForbidden {
		t.Errorf("cross-site with credentials: %d, want 403", got)
	}
	if n := h.count("charge_attempts"); n != 0 {
		t.Errorf("%d attempts from refused requests", n)
	}
}

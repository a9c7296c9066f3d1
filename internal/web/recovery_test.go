package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit"
)

// declinedAttempt charges a card that is declined off-session and returns
// the attempt and the path of its recovery link.
func (h *harness) declinedAttempt(email string) (billing.ChargeAttempt, string) {
	h.t.Helper()
	a := h.chargeCard(h.recordedCard(email, "4000000000000341").ID, "25.00", "usd")
	if a.Status != billing.ChargeDeclined {
		h.t.Fatalf("attempt %s, want declined", a.Status)
	}
	for _, n := range h.notifications() {
		if n.ChargeAttemptID == a.ID {
			return a, strings.TrimPrefix(n.Link, h.store.URL)
		}
	}
	h.t.Fatalf("no recovery link for attempt %d", a.ID)
	return a, ""
}

// openLink follows a recovery link and returns the session it sent the customer to.
func (h *harness) openLink(link string) string {
	h.t.Helper()
	res := h.get(link)
	if res.status != http.StatusSeeOther || !strings.Contains(res.location, "/c/pay/cs_test_") {
		h.t.Fatalf("link: %d %q %s", res.status, res.location, res.body)
	}
	return res.location[strings.LastIndex(res.location, "/")+1:]
}

// stripeSession reads a Checkout Session from the emulator.
func (h *harness) stripeSession(id string) stripe.CheckoutSession {
	h.t.Helper()
	var s stripe.CheckoutSession
	if err := json.Unmarshal([]byte(h.emuGet("/v1/checkout/sessions/"+id)), &s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// openSessions counts the Checkout Sessions Stripe would let a customer pay.
func (h *harness) openSessions() int {
	h.t.Helper()
	var list struct {
		Data []stripe.CheckoutSession `json:"data"`
	}
	if err := json.Unmarshal([]byte(h.emuGet("/v1/checkout/sessions?status=open&limit=100")), &list); err != nil {
		h.t.Fatal(err)
	}
	return len(list.Data)
}

// succeededPayments counts the succeeded PaymentIntents on Stripe.
func (h *harness) succeededPayments() int {
	h.t.Helper()
	var list struct {
		Data []stripe.PaymentIntent `json:"data"`
	}
	if err := json.Unmarshal([]byte(h.emuGet("/v1/payment_intents?limit=100")), &list); err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, pi := range list.Data {
		if pi.Status == stripe.PaymentIntentStatusSucceeded {
			n++
		}
	}
	return n
}

// completedEvent finds the checkout.session.completed event of a session.
func (h *harness) completedEvent(sessionID string) billing.Event {
	h.t.Helper()
	for _, e := range h.stripeEvents() {
		if e.Type == billing.EventCheckoutSessionCompleted && e.ObjectID == sessionID {
			return e
		}
	}
	h.t.Fatalf("no checkout.session.completed for %s", sessionID)
	return billing.Event{}
}

// TestReopenedLinkLeavesOnePayableSession is finding 3 of issue 8: whatever
// our copy of the recovery session says (about to expire, expired, or gone),
// opening the link again leaves exactly one session that can be paid, and
// exactly one payment succeeds.
func TestReopenedLinkLeavesOnePayableSession(t *testing.T) {
	cases := map[string]string{
		"near its expiry":        `UPDATE checkout_sessions SET expires_at = now() + interval '1 minute' WHERE id = $1`,
		"marked expired locally": `UPDATE checkout_sessions SET status = 'expired' WHERE id = $1`,
		"missing locally": `WITH unlinked AS (UPDATE charge_attempts SET recovery_session_id = NULL WHERE recovery_session_id = $1)
			DELETE FROM checkout_sessions WHERE id = $1`,
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			a, link := h.declinedAttempt("twice@example.com")
			paymentsBefore := h.succeededPayments()
			first := h.openLink(link)
			if _, err := h.db.Pool().Exec(ctx, change, first); err != nil {
				t.Fatal(err)
			}
			second := h.openLink(link)

			if n := h.openSessions(); n != 1 {
				t.Fatalf("%d open sessions on Stripe after opening the link twice, want 1", n)
			}
			if second != first {
				if s := h.stripeSession(first); s.Status != stripe.CheckoutSessionStatusExpired {
					t.Errorf("the first session is %s on Stripe, want expired", s.Status)
				}
				err := h.emu.CompleteCheckout(ctx, first, stripeemu.Card{Number: "4242424242424242", Expiry: "12 / 34", CVC: "123", Name: "A", Email: "twice@example.com"})
				if !errors.Is(err, stripeemu.ErrSessionNotOpen) {
					t.Errorf("paying the first session: %v, want it refused", err)
				}
			}
			h.completeWith(second, "5555555555554444", "twice@example.com")
			if res := h.get("/pay/complete?session_id=" + second); res.status != http.StatusOK || !strings.Contains(res.body, "Payment received") {
				t.Errorf("return page: %d %s", res.status, res.body)
			}
			if got := h.succeededPayments() - paymentsBefore; got != 1 {
				t.Errorf("%d payments succeeded for one recovery, want 1", got)
			}
			if a, _ = h.svc.ChargeAttempt(ctx, a.ID); a.Status != billing.ChargeRecovered || a.RecoverySessionID != second {
				t.Errorf("attempt %s through %s, want recovered through %s", a.Status, a.RecoverySessionID, second)
			}
		})
	}
}

// TestReopenedLinkRecordsAPaymentItDidNotKnowOf: the customer paid, but
// neither the return page nor the webhook has told us yet; opening the
// link again finds the payment on Stripe instead of making a new session.
func TestReopenedLinkRecordsAPaymentItDidNotKnowOf(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	a, link := h.declinedAttempt("quiet@example.com")
	first := h.openLink(link)
	h.completeWith(first, "5555555555554444", "quiet@example.com")
	if _, err := h.db.Pool().Exec(ctx, `UPDATE checkout_sessions SET expires_at = now() + interval '1 minute' WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	sessions := h.stripeCount("/v1/checkout/sessions")
	if res := h.get(link); res.status != http.StatusConflict || !strings.Contains(res.body, "Already paid") {
		t.Errorf("link after an unrecorded payment: %d, want the already-paid page", res.status)
	}
	if n := h.stripeCount("/v1/checkout/sessions"); n != sessions {
		t.Errorf("%d new sessions made for a paid attempt", n-sessions)
	}
	if a, _ = h.svc.ChargeAttempt(ctx, a.ID); a.Status != billing.ChargeRecovered || a.RecoverySessionID != first {
		t.Errorf("attempt %s through %q, want recovered through %s", a.Status, a.RecoverySessionID, first)
	}
}

// TestLatePaymentIsRefundedOnceAndShown: a second session for the same
// attempt (made before this store expired old sessions, or one whose expiry
// failed) is paid after the first. The duplicate is refunded on Stripe once,
// however often the webhook and the return page run, and shown to the admin
// and the customer, and logged.
func TestLatePaymentIsRefundedOnceAndShown(t *testing.T) {
	var logs testkit.SyncBuffer
	h := newHarnessWithLog(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	a, link := h.declinedAttempt("late@example.com")
	first := h.openLink(link)
	stray, err := h.gateway.CreatePaymentSession(ctx, billing.PaymentSessionParams{
		AttemptID: a.ID, StripeCustomerID: a.StripeCustomerID, Money: a.Money, Description: "Payment",
		SuccessURL: h.store.URL + "/pay/complete?session_id={CHECKOUT_SESSION_ID}", CancelURL: h.store.URL + link,
	})
	if err != nil {
		t.Fatal(err)
	}
	stray.CustomerID, stray.Mode, stray.Status, stray.Currency = a.CustomerID, billing.ModePayment, billing.SessionOpen, "usd"
	if err := h.db.CreateCheckoutSession(ctx, stray); err != nil {
		t.Fatal(err)
	}
	paymentsBefore := h.succeededPayments()
	h.completeWith(first, "5555555555554444", "late@example.com")
	h.completeWith(stray.ID, "4242424242424242", "late@example.com")
	if res := h.deliver(h.completedEvent(first)); res.status != http.StatusOK {
		t.Fatalf("webhook: %d", res.status)
	}

	late := h.completedEvent(stray.ID)
	for range 3 {
		if res := h.deliver(late); res.status != http.StatusOK {
			t.Fatalf("webhook of the late payment: %d", res.status)
		}
		res := h.get("/pay/complete?session_id=" + stray.ID)
		if res.status != http.StatusOK || !strings.Contains(res.body, "refunded") || strings.Contains(res.body, "Payment received") {
			t.Errorf("return page of the late payment: %d %s", res.status, res.body)
		}
	}
	if got := h.succeededPayments() - paymentsBefore; got != 2 {
		t.Fatalf("%d payments succeeded, want the two the customer made", got)
	}
	if n := h.gateway.Calls()[stripeapi.OpCreateRefund]; n != 1 {
		t.Errorf("%d refunds asked of Stripe, want 1", n)
	}
	remote := h.stripeSession(stray.ID)
	var pi stripe.PaymentIntent
	if err := json.Unmarshal([]byte(h.emuGet("/v1/payment_intents/"+remote.PaymentIntent.ID+"?expand[]=latest_charge")), &pi); err != nil {
		t.Fatal(err)
	}
	if pi.LatestCharge == nil || !pi.LatestCharge.Refunded || pi.LatestCharge.AmountRefunded != 2500 {
		t.Errorf("the late payment's charge on Stripe: %+v, want refunded in full", pi.LatestCharge)
	}

	a, _ = h.svc.ChargeAttempt(ctx, a.ID)
	if a.Status != billing.ChargeRecovered || a.RecoverySessionID != first || a.DuplicatePayments != 1 || a.DuplicatesRefunded != 1 {
		t.Errorf("attempt %+v, want recovered through the first session with one refunded duplicate", a)
	}
	page := h.admin("/admin/charges/"+strconv.FormatInt(a.ID, 10), "admin", adminPassword)
	if !strings.Contains(page.body, `data-payment-intent="`+remote.PaymentIntent.ID+`"`) || !strings.Contains(page.body, "status-refunded") {
		t.Errorf("the attempt page does not show the refunded duplicate:\n%s", page.body)
	}
	customer := h.admin("/admin/customers/"+strconv.FormatInt(a.CustomerID, 10), "admin", adminPassword)
	if !strings.Contains(customer.body, "1 duplicate payment(s), 1 refunded") {
		t.Errorf("the customer page does not show the refunded duplicate")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "payment_intent_id="+remote.PaymentIntent.ID) {
		t.Errorf("no warning logged for the duplicate payment:\n%s", logs.String())
	}
	if c, _ := h.db.Customer(ctx, a.CustomerID); c.DefaultPaymentMethodID == "" {
		t.Error("no default card after the recovery")
	} else if card, _ := h.db.SavedPaymentMethod(ctx, c.DefaultPaymentMethodID); card.Last4 != "4444" {
		t.Errorf("default card %s, want the 4444 that paid, not the refunded duplicate's", card.Last4)
	}
}

// TestConcurrentClicksOnAStaleLinkMakeOneSession: no lock is held across the
// Stripe calls, so concurrent clicks converge through the key derived from
// the session they replace, and the guarded record.
func TestConcurrentClicksOnAStaleLinkMakeOneSession(t *testing.T) {
	h := newHarness(t)
	_, link := h.declinedAttempt("rush@example.com")
	first := h.openLink(link)
	if _, err := h.db.Pool().Exec(context.Background(), `UPDATE checkout_sessions SET expires_at = now() + interval '1 minute' WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make(chan string, 6)
	for range 6 {
		wg.Go(func() {
			res := h.get(link)
			if res.status != http.StatusSeeOther {
				t.Errorf("click: %d %s", res.status, res.body)
				return
			}
			got <- res.location
		})
	}
	wg.Wait()
	close(got)
	locations := map[string]bool{}
	for l := range got {
		locations[l] = true
	}
	if len(locations) != 1 || h.openSessions() != 1 {
		t.Errorf("concurrent clicks went to %d sessions, %d open on Stripe; want one", len(locations), h.openSessions())
	}
}

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// eventAbout is a Stripe event of typ about the object id, as Stripe sends it.
func eventAbout(eventID, typ, object, id string) billing.Event {
	payload := fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":%q,"created":%d,"type":%q,"data":{"object":{"id":%q,"object":%q}}}`,
		eventID, stripe.APIVersion, time.Now().Unix(), typ, id, object)
	return billing.Event{ID: eventID, Type: typ, ObjectID: id, Payload: payload}
}

// TestCustomerDeletedMakesANewStripeCustomer: after customer.deleted, the
// customer's cards can no longer be charged and the next Save card makes a
// new Stripe Customer (not the deleted one, replayed for the old key).
func TestCustomerDeletedMakesANewStripeCustomer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	first := h.recordedCard("ann@example.com", "4242424242424242")
	before, err := h.db.CustomerByEmail(ctx, "ann@example.com")
	if err != nil || before.StripeID == "" {
		t.Fatalf("customer %+v: %v", before, err)
	}
	req, _ := http.NewRequest(http.MethodDelete, h.stripeServer.URL+"/v1/customers/"+before.StripeID, nil)
	req.Header.Set("Authorization", "Bearer sk_test_harness")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("delete on Stripe: %v %v", res, err)
	}
	var deleted billing.Event
	for _, e := range h.stripeEvents() {
		if e.Type == billing.EventCustomerDeleted && e.ObjectID == before.StripeID {
			deleted = e
		}
	}
	if deleted.ID == "" {
		t.Fatal("no customer.deleted among the events sync asks for")
	}
	if res := h.deliver(deleted); res.status != http.StatusOK {
		t.Fatalf("deliver: %d %s", res.status, res.body)
	}
	if e := h.ledger(deleted.ID); e.AppliedAt.IsZero() {
		t.Fatalf("customer.deleted not applied: %+v", e)
	}
	gone, err := h.db.CustomerByEmail(ctx, "ann@example.com")
	if err != nil || gone.StripeID != "" || gone.DefaultPaymentMethodID != "" || gone.StripeGeneration != 1 {
		t.Fatalf("after customer.deleted: %+v %v", gone, err)
	}
	if pm, err := h.db.SavedPaymentMethod(ctx, first.ID); err != nil || pm.Status != billing.PaymentMethodDetached {
		t.Fatalf("card of the deleted customer: %+v %v", pm, err)
	}
	// A late event naming the deleted Customer does not link it again.
	if res := h.deliver(deleted); res.status != http.StatusOK {
		t.Fatalf("redeliver: %d", res.status)
	}

	second := h.recordedCard("ann@example.com", "5555555555554444")
	after, err := h.db.CustomerByEmail(ctx, "ann@example.com")
	if err != nil || after.ID != before.ID || after.StripeID == "" || after.StripeID == before.StripeID {
		t.Fatalf("after a new Save card: %+v (was %+v) %v", after, before, err)
	}
	if pm, err := h.db.SavedPaymentMethod(ctx, second.ID); err != nil || pm.Status != billing.PaymentMethodActive || pm.StripeCustomerID != after.StripeID {
		t.Fatalf("new card: %+v %v", pm, err)
	}
	if a := h.chargeCard(second.ID, "12.00", "usd"); a.Status != billing.ChargeSucceeded {
		t.Fatalf("charge of the new card: %+v", a)
	}
}

// asyncStripe is the emulator behind a front that makes chosen Checkout
// Sessions look as Stripe shows a session whose asynchronous payment failed:
// complete, unpaid, its PaymentIntent back to requires_payment_method. The
// emulator offers cards only, so it cannot get there by itself.
func asyncStripe(t *testing.T) (*stripeSide, *sync.Map) {
	t.Helper()
	failed := &sync.Map{}
	side := &stripeSide{emu: stripeemu.New(stripeemu.Options{})}
	emu := stripespec.Checked(t, side.emu.Handler())
	side.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v1/checkout/sessions/")
		id, action, _ := strings.Cut(rest, "/")
		if _, isFailed := failed.Load(id); !ok || !isFailed {
			emu.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if action == "expire" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","message":"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of complete."}}`)
			return
		}
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, r)
		var s map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
			t.Errorf("session %s: %v", id, err)
		}
		s["status"], s["payment_status"] = "complete", "unpaid"
		s["payment_intent"] = map[string]any{"id": "pi_AsyncFailed1", "object": "payment_intent", "status": "requires_payment_method",
			"amount": 2500, "currency": "usd", "metadata": s["metadata"]}
		json.NewEncoder(w).Encode(s) //nolint:errcheck
	}))
	side.emu.SetPublicURL(side.server.URL)
	t.Cleanup(func() { side.server.Close(); side.emu.Close() })
	return side, failed
}

// TestAsyncPaymentOutcomesOfARecovery: a recovery session whose payment
// fails after completing leaves the charge unpaid and the link usable (a new
// session), the return page says the payment did not go through; the
// success event of the next session records the recovery.
func TestAsyncPaymentOutcomesOfARecovery(t *testing.T) {
	t.Parallel()
	side, failed := asyncStripe(t)
	h := newStore(t, side, nil)
	ctx := context.Background()
	attempt, link := h.declinedAttempt("ann@example.com")
	first := h.openLink(link)

	failed.Store(first, true)
	if res := h.deliver(eventAbout("evt_AsyncFailed1", billing.EventCheckoutSessionAsyncPaymentFailed, "checkout.session", first)); res.status != http.StatusOK {
		t.Fatalf("deliver async_payment_failed: %d %s", res.status, res.body)
	}
	if e := h.ledger("evt_AsyncFailed1"); e.AppliedAt.IsZero() {
		t.Fatalf("async_payment_failed not applied: %+v", e)
	}
	if a, _ := h.svc.ChargeAttempt(ctx, attempt.ID); a.Status != billing.ChargeDeclined {
		t.Fatalf("attempt after a failed payment: %s", a.Status)
	}
	if res := h.get("/pay/complete?session_id=" + first); res.status != http.StatusOK || !strings.Contains(res.body, "did not go through") {
		t.Fatalf("return page of the failed payment: %d %s", res.status, res.body)
	}

	second := h.openLink(link)
	if second == first {
		t.Fatal("the link handed out the session whose payment failed")
	}
	h.completeWith(second, "4242424242424242", "ann@example.com")
	if res := h.deliver(eventAbout("evt_AsyncPaid1", billing.EventCheckoutSessionAsyncPaymentSucceeded, "checkout.session", second)); res.status != http.StatusOK {
		t.Fatalf("deliver async_payment_succeeded: %d %s", res.status, res.body)
	}
	if a, _ := h.svc.ChargeAttempt(ctx, attempt.ID); a.Status != billing.ChargeRecovered {
		t.Fatalf("attempt after async_payment_succeeded: %s", a.Status)
	}
}

// TestProcessingAtStripeIsNotAMissingAnswer: the attempt page tells a
// payment Stripe is still processing from one whose answer never arrived.
func TestProcessingAtStripeIsNotAMissingAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	pm := h.recordedCard("ann@example.com", "4242424242424242")
	saved, err := h.db.SavedPaymentMethod(ctx, pm.ID)
	if err != nil {
		t.Fatal(err)
	}
	attempt := func(key string) billing.ChargeAttempt {
		a, _, err := h.db.CreateChargeAttempt(ctx, billing.ChargeAttempt{CustomerID: saved.CustomerID, PaymentMethodID: pm.ID,
			Money: billing.Money{Amount: 1000, Currency: "usd"}, IdempotencyKey: key, Status: billing.ChargeProcessing}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	atStripe := attempt("processing-at-stripe-key")
	if _, err := h.db.FinishChargeAttempt(ctx, atStripe.ID, billing.ChargeOutcome{PaymentIntentID: "pi_Processing1", Status: "processing"}, billing.ChargeProcessing, billing.ChargeFollowUp{}); err != nil {
		t.Fatal(err)
	}
	missing := attempt("answer-missing-key-1")
	for _, tc := range []struct {
		id          int64
		want, avoid string
	}{
		{atStripe.ID, `id="processing-at-stripe"`, `id="answer-missing"`},
		{missing.ID, `id="answer-missing"`, `id="processing-at-stripe"`},
	} {
		page := h.admin(fmt.Sprintf("/admin/charges/%d", tc.id), "admin", adminPassword)
		if page.status != http.StatusOK || !strings.Contains(page.body, tc.want) || strings.Contains(page.body, tc.avoid) {
			t.Errorf("attempt %d: %d, want %s and not %s:\n%s", tc.id, page.status, tc.want, tc.avoid, page.body)
		}
	}
}

// frontedStripe is the emulator behind a front: intercept answers a request
// itself by returning true.
func frontedStripe(t *testing.T, intercept func(w http.ResponseWriter, r *http.Request) bool) *stripeSide {
	t.Helper()
	side := &stripeSide{emu: stripeemu.New(stripeemu.Options{})}
	emu := stripespec.Checked(t, side.emu.Handler())
	side.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			emu.ServeHTTP(w, r)
		}
	}))
	side.emu.SetPublicURL(side.server.URL)
	t.Cleanup(func() { side.server.Close(); side.emu.Close() })
	return side
}

// TestRecoveredChargeCancelsItsFailedPaymentIntent: once a recovery is
// recorded, the failed PaymentIntent is cancelled on Stripe. A cancel that
// fails does not stop the recovery from being recorded, and the next sync
// cancels it.
func TestRecoveredChargeCancelsItsFailedPaymentIntent(t *testing.T) {
	t.Parallel()
	var failCancel atomic.Bool
	failCancel.Store(true)
	side := frontedStripe(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !failCancel.Load() || !strings.HasSuffix(r.URL.Path, "/cancel") {
			return false
		}
		w.Header().Set("Request-Id", "req_cancel_down")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`)
		return true
	})
	h := newStore(t, side, nil)
	ctx := context.Background()
	intentStatus := func(id string) string {
		var pi stripe.PaymentIntent
		if err := json.Unmarshal([]byte(h.emuGet("/v1/payment_intents/"+id)), &pi); err != nil {
			t.Fatal(err)
		}
		return string(pi.Status)
	}
	cancelState := func(id int64) (canceled bool, failure string) {
		err := h.db.Pool().QueryRow(ctx, `SELECT intent_canceled_at IS NOT NULL, coalesce(intent_cancel_error, '') FROM charge_attempts WHERE id = $1`, id).Scan(&canceled, &failure)
		if err != nil {
			t.Fatal(err)
		}
		return canceled, failure
	}

	attempt, link := h.declinedAttempt("ann@example.com")
	if attempt.PaymentIntentID == "" || intentStatus(attempt.PaymentIntentID) != "requires_payment_method" {
		t.Fatalf("declined attempt %+v", attempt)
	}
	session := h.openLink(link)
	h.completeWith(session, "4242424242424242", "ann@example.com")
	if res := h.get("/pay/complete?session_id=" + session); res.status != http.StatusOK || !strings.Contains(res.body, "Payment received") {
		t.Fatalf("return page with Stripe's cancel failing: %d %s", res.status, res.body)
	}
	if a, _ := h.svc.ChargeAttempt(ctx, attempt.ID); a.Status != billing.ChargeRecovered {
		t.Fatalf("attempt %s, want recovered whatever the cancel did", a.Status)
	}
	if canceled, failure := cancelState(attempt.ID); canceled || failure == "" || intentStatus(attempt.PaymentIntentID) != "requires_payment_method" {
		t.Fatalf("after a failed cancel: canceled %v, failure %q", canceled, failure)
	}

	failCancel.Store(false)
	if _, err := h.svc.Sync(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if canceled, failure := cancelState(attempt.ID); !canceled || failure != "" {
		t.Fatalf("after sync: canceled %v, failure %q", canceled, failure)
	}
	if got := intentStatus(attempt.PaymentIntentID); got != "canceled" {
		t.Fatalf("failed PaymentIntent on Stripe: %s, want canceled", got)
	}
	// Once cancelled, nothing is sent again.
	calls := h.gateway.Calls()[stripeapi.OpCancelPaymentIntent]
	if _, err := h.svc.Sync(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if again := h.gateway.Calls()[stripeapi.OpCancelPaymentIntent]; again != calls {
		t.Errorf("cancel calls went from %d to %d after it was done", calls, again)
	}
}

// deleteOnStripe deletes a Stripe Customer behind the store's back (no
// webhook), as an emulator restart or a Dashboard deletion with the
// endpoint down leaves it.
func (h *harness) deleteOnStripe(stripeID string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, h.stripeServer.URL+"/v1/customers/"+stripeID, nil)
	req.Header.Set("Authorization", "Bearer sk_test_harness")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		h.t.Fatalf("delete %s on Stripe: %v %v", stripeID, res, err)
	}
	res.Body.Close()
}

// TestStripeLostTheCustomer: when Stripe answers resource_missing for the
// Customer we stored, Save card carries on with a new Customer, a charge
// fails with words that say why, and every failed call is logged with
// Stripe's request id; nobody sees "Not found".
func TestStripeLostTheCustomer(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	h := newHarnessWithLog(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()

	h.recordedCard("ann@example.com", "4242424242424242")
	ann, _ := h.db.CustomerByEmail(ctx, "ann@example.com")
	h.deleteOnStripe(ann.StripeID)
	session := h.startSession("ann@example.com") // a 303 to Checkout, not an error page
	h.completeWith(session, "5555555555554444", "ann@example.com")
	if res := h.get("/success?session_id=" + session); res.status != http.StatusOK {
		t.Fatalf("success page: %d %s", res.status, res.body)
	}
	again, _ := h.db.CustomerByEmail(ctx, "ann@example.com")
	if again.StripeID == "" || again.StripeID == ann.StripeID {
		t.Fatalf("Stripe Customer after Save card: %q (lost one %q)", again.StripeID, ann.StripeID)
	}
	pm, err := h.db.SessionPaymentMethod(ctx, session)
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := h.db.SavedPaymentMethod(ctx, pm.ID); err != nil || saved.StripeCustomerID != again.StripeID || saved.Status != billing.PaymentMethodActive {
		t.Fatalf("new card %+v: %v", saved, err)
	}
	if a := h.chargeCard(pm.ID, "9.00", "usd"); a.Status != billing.ChargeSucceeded {
		t.Fatalf("charge of the card saved after: %+v", a)
	}

	bo := h.recordedCard("bo@example.com", "4242424242424242")
	boCustomer, _ := h.db.CustomerByEmail(ctx, "bo@example.com")
	h.deleteOnStripe(boCustomer.StripeID)
	a := h.chargeCard(bo.ID, "9.00", "usd")
	if a.Status != billing.ChargeFailed || !strings.Contains(a.FailureMessage, "must save a card again") {
		t.Fatalf("charge of a lost customer's card: %s %q", a.Status, a.FailureMessage)
	}
	if c, _ := h.db.CustomerByEmail(ctx, "bo@example.com"); c.StripeID != "" {
		t.Errorf("lost Stripe Customer still linked: %q", c.StripeID)
	}

	for _, op := range []string{stripeapi.OpCreateSession, stripeapi.OpCreatePaymentIntent} {
		found := false
		for line := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "op="+op) &&
				strings.Contains(line, "code=resource_missing") && strings.Contains(line, "stripe_request_id=req_") {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning with Stripe's request id for the failed %s:\n%s", op, logs.String())
		}
	}
}

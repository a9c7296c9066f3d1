package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
	"github.com/storefront/storefront/internal/stripeemu"
)

// emulatorKey is the harness's Stripe key; an emulator that knows it
// answers the test-only controls (decline_next) to it.
const emulatorKey = "sk_test_harness"

// newDunningHarness is a store that retries soft declines on the default
// schedule, against an emulator with its test controls on.
func newDunningHarness(t *testing.T) *harness {
	t.Helper()
	return newStoreWith(t, newStripe(t, stripeemu.Options{SecretKey: emulatorKey}), storeOptions{dunning: billing.DefaultDunningSchedule()})
}

// declineNext makes the card's next off-session charge fail with this decline code, once.
func (h *harness) declineNext(pmID, code string) {
	h.t.Helper()
	h.testControl(pmID, "decline_next", url.Values{"decline_code": {code}})
}

// testControl calls one of the emulator's test-only controls on a card.
func (h *harness) testControl(pmID, action string, form url.Values) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.stripeServer.URL+"/_test/payment_methods/"+pmID+"/"+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+emulatorKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("%s %v: %d", action, form, res.StatusCode)
	}
}

// runDunning runs the dunning schedule's job as the store does, as the system.
func (h *harness) runDunning() billing.DunningReport {
	h.t.Helper()
	report, err := h.svc.RunDunning(staff.WithActor(context.Background(), staff.SystemActor("dunning")))
	if err != nil {
		h.t.Fatalf("dunning: %v", err)
	}
	return report
}

// paymentIntents lists the PaymentIntents on Stripe by status.
func (h *harness) paymentIntents() map[string]int {
	h.t.Helper()
	var list struct {
		Data []struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(h.emuGet("/v1/payment_intents?limit=100")), &list); err != nil {
		h.t.Fatal(err)
	}
	byStatus := map[string]int{}
	for _, pi := range list.Data {
		byStatus[pi.Status]++
	}
	return byStatus
}

func (h *harness) attempt(id int64) billing.ChargeAttempt {
	h.t.Helper()
	a, err := h.svc.ChargeAttempt(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// retriesOf returns the automatic retries of an attempt, oldest first.
func (h *harness) retriesOf(a billing.ChargeAttempt) []billing.ChargeAttempt {
	h.t.Helper()
	all, err := h.db.CustomerChargeAttempts(context.Background(), a.CustomerID)
	if err != nil {
		h.t.Fatal(err)
	}
	var retries []billing.ChargeAttempt
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].RetryOf == a.ID {
			retries = append(retries, all[i])
		}
	}
	return retries
}

// auditActors lists "actor action" of the audit log, oldest first.
func (h *harness) auditActors() []string {
	h.t.Helper()
	rows, err := h.db.Pool().Query(context.Background(), `SELECT actor || ' ' || action FROM audit_log ORDER BY id`)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestDunningRetrySucceedsOnSchedule: a soft decline writes nothing to the
// customer, is retried off-session a day later (not before), the retry
// pays the charge, and the customer is never written to.
func TestDunningRetrySucceedsOnSchedule(t *testing.T) {
	h := newDunningHarness(t)
	pm := h.recordedCard("dun@example.com", "4242424242424242")
	h.declineNext(pm.ID, "insufficient_funds")
	a := h.chargeCard(pm.ID, "25.00", "usd")
	if a.Status != billing.ChargeDeclined || a.DeclineCode != "insufficient_funds" || !a.Dunning.Active() || a.Dunning.Planned != 3 {
		t.Fatalf("attempt %+v, want declined with retries scheduled", a)
	}
	if due := a.Dunning.NextRetryAt.Sub(h.now()); due < 23*time.Hour || due > 24*time.Hour {
		t.Errorf("first retry in %s, want a day", due)
	}
	if n := len(h.notifications()); n != 0 {
		t.Errorf("%d messages after a soft decline, want none before the retries end", n)
	}
	page := h.admin("/admin/charges/"+strconv.FormatInt(a.ID, 10), "admin", adminPassword)
	if !strings.Contains(page.body, `id="dunning-next"`) || !strings.Contains(page.body, "0 of 3 retries made") {
		t.Errorf("the charge page does not show the retry to come:\n%s", page.body)
	}
	customer := h.admin("/admin/customers/"+strconv.FormatInt(a.CustomerID, 10), "admin", adminPassword)
	if !strings.Contains(customer.body, "retry 0/3 made, next") {
		t.Errorf("the customer page does not show the retry to come")
	}

	h.advance(23 * time.Hour)
	if r := h.runDunning(); r.Claimed != 0 {
		t.Fatalf("a run before the retry is due made %d", r.Claimed)
	}
	h.advance(time.Hour + time.Minute)
	if r := h.runDunning(); r.Claimed != 1 {
		t.Fatalf("the run when due made %d retries, want 1", r.Claimed)
	}
	a = h.attempt(a.ID)
	retries := h.retriesOf(a)
	if a.Status != billing.ChargeRecovered || !a.Dunning.Succeeded() || a.Dunning.RetriesDone != 1 || len(retries) != 1 ||
		retries[0].Status != billing.ChargeSucceeded || a.RecoveredPaymentIntentID != retries[0].PaymentIntentID ||
		a.Dunning.LastAttemptID != retries[0].ID || retries[0].IdempotencyKey == a.IdempotencyKey {
		t.Fatalf("after the retry: attempt %+v, retries %+v", a, retries)
	}
	h.advance(10 * 24 * time.Hour)
	if r := h.runDunning(); r.Claimed != 0 {
		t.Errorf("a paid charge was retried again")
	}
	if n := len(h.notifications()); n != 0 {
		t.Errorf("%d messages, want none: the retry paid", n)
	}
	if pis := h.paymentIntents(); pis["succeeded"] != 1 {
		t.Errorf("PaymentIntents on Stripe by status: %v, want exactly one succeeded", pis)
	}
	if got, want := strings.Join(h.auditActors(), ", "), "admin charge, system:dunning charge.dunning_retry"; got != want {
		t.Errorf("audit log %q, want %q", got, want)
	}
	page = h.admin("/admin/charges/"+strconv.FormatInt(retries[0].ID, 10), "admin", adminPassword)
	if !strings.Contains(page.body, `id="retry-of"`) || !strings.Contains(page.body, "system:dunning") {
		t.Errorf("the retry's page does not say it was automatic")
	}
	if page = h.admin("/admin/charges/"+strconv.FormatInt(a.ID, 10), "admin", adminPassword); !strings.Contains(page.body, "Paid by automatic retry 1") {
		t.Errorf("the charge's page does not say a retry paid it")
	}
}

// TestDunningEnds: the customer gets one message, with the link to pay,
// when the retries run out or meet a decline waiting cannot fix, and not
// before; the card is charged no more after that.
func TestDunningEnds(t *testing.T) {
	cases := []struct {
		name     string
		declines []string // of the retries, in turn
		want     billing.DunningStatus
	}{
		{"every retry declined", []string{"insufficient_funds", "card_velocity_exceeded", "generic_decline"}, billing.DunningGaveUp},
		{"a hard decline at the second retry", []string{"do_not_honor", "lost_card"}, billing.DunningStopped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newDunningHarness(t)
			pm := h.recordedCard("end@example.com", "4242424242424242")
			h.declineNext(pm.ID, "insufficient_funds")
			a := h.chargeCard(pm.ID, "12.00", "usd")
			for i, code := range tc.declines {
				if n := len(h.notifications()); n != 0 {
					t.Fatalf("%d messages before retry %d", n, i+1)
				}
				h.declineNext(pm.ID, code)
				h.advance(h.attempt(a.ID).Dunning.NextRetryAt.Sub(h.now()) + time.Minute)
				if r := h.runDunning(); r.Claimed != 1 {
					t.Fatalf("retry %d: the run made %d", i+1, r.Claimed)
				}
			}
			a = h.attempt(a.ID)
			if a.Dunning.Status != tc.want || a.Dunning.RetriesDone != len(tc.declines) || a.Status != billing.ChargeDeclined {
				t.Fatalf("attempt %+v, dunning %+v, want %s", a, a.Dunning, tc.want)
			}
			outbox := h.notifications()
			if len(outbox) != 1 || outbox[0].ChargeAttemptID != a.ID || outbox[0].Kind != billing.NotificationPaymentFailed {
				t.Fatalf("outbox %+v, want one message about the declined charge", outbox)
			}
			if res := h.get(strings.TrimPrefix(outbox[0].Link, h.store.URL)); res.status != http.StatusSeeOther {
				t.Errorf("the message's link: %d, want a payment session", res.status)
			}
			h.advance(10 * 24 * time.Hour)
			if r := h.runDunning(); r.Claimed != 0 {
				t.Errorf("retried after the end")
			}
			if pis := h.paymentIntents(); pis["succeeded"] != 0 || len(h.retriesOf(a)) != len(tc.declines) {
				t.Errorf("PaymentIntents %v, retries %d", pis, len(h.retriesOf(a)))
			}
		})
	}
}

// TestHardDeclinesAreNotRetried: a decline only the customer can fix, and
// a demand for authentication, go straight to the customer.
func TestHardDeclinesAreNotRetried(t *testing.T) {
	cases := []struct {
		name, card, declineNext, status string
	}{
		{"lost_card", "4242424242424242", "lost_card", billing.ChargeDeclined},
		{"expired_card", "4242424242424242", "expired_card", billing.ChargeDeclined},
		{"authentication_required", "4000002760003184", "", billing.ChargeAuthenticationRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newDunningHarness(t)
			pm := h.recordedCard("hard@example.com", tc.card)
			if tc.declineNext != "" {
				h.declineNext(pm.ID, tc.declineNext)
			}
			a := h.chargeCard(pm.ID, "9.00", "usd")
			if a.Status != tc.status || a.Dunning.Status != "" {
				t.Fatalf("attempt %+v, want %s and no retries", a, tc.status)
			}
			if outbox := h.notifications(); len(outbox) != 1 || outbox[0].ChargeAttemptID != a.ID {
				t.Fatalf("outbox %+v, want the customer written to at once", outbox)
			}
			h.advance(6 * 24 * time.Hour)
			if r := h.runDunning(); r.Claimed != 0 {
				t.Errorf("a %s was retried", tc.name)
			}
			if pis := h.paymentIntents(); pis["succeeded"] != 0 || len(h.retriesOf(a)) != 0 {
				t.Errorf("PaymentIntents %v after a %s", pis, tc.name)
			}
		})
	}
}

// TestDunningOnTwoReplicas: two stores on one database run the due retry
// at once; the card is charged once.
func TestDunningOnTwoReplicas(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{SecretKey: emulatorKey})
	first := newStoreWith(t, stripe, storeOptions{dunning: billing.DefaultDunningSchedule()})
	second := newStoreWith(t, stripe, storeOptions{db: first.db, dunning: billing.DefaultDunningSchedule()})
	pm := first.recordedCard("two@example.com", "4242424242424242")
	first.declineNext(pm.ID, "insufficient_funds")
	a := first.chargeCard(pm.ID, "30.00", "usd")
	first.advance(25 * time.Hour)
	second.advance(25 * time.Hour)
	var wg sync.WaitGroup
	claimed := make([]int, 2)
	for i, h := range []*harness{first, second} {
		wg.Go(func() {
			report, err := h.svc.RunDunning(staff.WithActor(context.Background(), staff.SystemActor("dunning")))
			if err != nil {
				t.Error(err)
			}
			claimed[i] = report.Claimed
		})
	}
	wg.Wait()
	if claimed[0]+claimed[1] != 1 {
		t.Errorf("the replicas made %v retries, want one in all", claimed)
	}
	if a = first.attempt(a.ID); !a.Dunning.Succeeded() || len(first.retriesOf(a)) != 1 {
		t.Errorf("attempt %+v, %d retries", a, len(first.retriesOf(a)))
	}
	if pis := first.paymentIntents(); pis["succeeded"] != 1 {
		t.Errorf("PaymentIntents %v, want one succeeded", pis)
	}
}

// TestDunningStopsWhenTheCardIsDetached: a retry of a card detached
// meanwhile is not sent; the customer is asked to pay with another.
func TestDunningStopsWhenTheCardIsDetached(t *testing.T) {
	h := newDunningHarness(t)
	pm := h.recordedCard("gone@example.com", "4242424242424242")
	h.declineNext(pm.ID, "insufficient_funds")
	a := h.chargeCard(pm.ID, "15.00", "usd")
	if res := h.adminPost("/admin/customers/"+strconv.FormatInt(a.CustomerID, 10)+"/detach", url.Values{"payment_method": {pm.ID}}); res.status != http.StatusSeeOther {
		t.Fatalf("detach: %d", res.status)
	}
	h.advance(25 * time.Hour)
	h.runDunning()
	a = h.attempt(a.ID)
	retries := h.retriesOf(a)
	if a.Dunning.Status != billing.DunningStopped || len(retries) != 1 || retries[0].Status != billing.ChargeFailed || retries[0].PaymentIntentID != "" {
		t.Fatalf("dunning %+v, retries %+v; want stopped, the retry not sent", a.Dunning, retries)
	}
	if outbox := h.notifications(); len(outbox) != 1 || outbox[0].ChargeAttemptID != a.ID {
		t.Errorf("outbox %+v, want the customer asked to pay", outbox)
	}
	if n := h.stripeCount("/v1/payment_intents"); n != 1 {
		t.Errorf("%d PaymentIntents, want only the declined one", n)
	}
}

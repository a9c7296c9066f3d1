package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeemu"
)

// cardExpiring saves, through Save card and the success page, a card that
// expires in the month after now.
func (h *harness) cardExpiring(email string, after time.Time) billing.PaymentMethod {
	h.t.Helper()
	next := time.Date(after.Year(), after.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	id := h.startSession(email)
	err := h.emu.CompleteCheckout(context.Background(), id, stripeemu.Card{
		Number: "4242424242424242", Expiry: fmt.Sprintf("%02d / %02d", next.Month(), next.Year()%100), CVC: "123", Name: "Ann Example", Email: email,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if res := h.get("/success?session_id=" + id); res.status != http.StatusOK {
		h.t.Fatalf("success: %d", res.status)
	}
	pm, err := h.db.SessionPaymentMethod(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return pm
}

// updateExpiry is the card account updater: a new expiry on Stripe, and its event.
func (h *harness) updateExpiry(pmID string, month time.Month, year int) {
	h.t.Helper()
	h.testControl(pmID, "update_expiry", url.Values{"exp_month": {fmt.Sprint(int(month))}, "exp_year": {fmt.Sprint(year)}})
}

func (h *harness) notificationsOfKind(kind string) []billing.Notification {
	h.t.Helper()
	var out []billing.Notification
	for _, n := range h.notifications() {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// stripeDefault is the default card of a Stripe Customer, as Stripe has it.
func (h *harness) stripeDefault(stripeCustomerID string) string {
	h.t.Helper()
	var c stripe.Customer
	if err := json.Unmarshal([]byte(h.emuGet("/v1/customers/"+stripeCustomerID)), &c); err != nil {
		h.t.Fatal(err)
	}
	if c.InvoiceSettings == nil || c.InvoiceSettings.DefaultPaymentMethod == nil {
		return ""
	}
	return c.InvoiceSettings.DefaultPaymentMethod.ID
}

// TestCardExpiryReminder: one message per card and expiry, however many
// runs on however many replicas; a card whose expiry the account updater
// moves, learnt through the scheduled reconciliation, is reminded too; the
// link saves a new card that becomes the default, here and on Stripe.
func TestCardExpiryReminder(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{SecretKey: emulatorKey})
	h := newStoreWith(t, stripe, storeOptions{})
	other := newStoreWith(t, stripe, storeOptions{db: h.db})
	ctx := context.Background()
	expiring := h.cardExpiring("exp@example.com", h.now())
	later := h.recordedCard("later@example.com", "4242424242424242") // expires 12/2034

	var wg sync.WaitGroup
	var mu sync.Mutex
	written := 0
	for _, store := range []*harness{h, other, h, other} {
		wg.Go(func() {
			n, err := store.svc.SendCardExpiryReminders(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			written += n
			mu.Unlock()
		})
	}
	wg.Wait()
	reminders := h.notificationsOfKind(billing.NotificationCardExpiring)
	if written != 1 || len(reminders) != 1 || reminders[0].CustomerID != expiring.CustomerID || reminders[0].Recipient != "exp@example.com" ||
		!strings.Contains(reminders[0].Body, reminders[0].Link) || !strings.Contains(reminders[0].Link, "/card/") {
		t.Fatalf("four runs on two replicas wrote %d: %+v", written, reminders)
	}
	if n, err := h.svc.SendCardExpiryReminders(ctx); err != nil || n != 0 {
		t.Errorf("a later run wrote %d, %v", n, err)
	}

	// The account updater moves the other card's expiry; the webhook is
	// missed, and the reconciliation finds it.
	next := h.now().UTC().AddDate(0, 1, 0)
	h.updateExpiry(later.ID, next.Month(), next.Year())
	if n, _ := h.svc.SendCardExpiryReminders(ctx); n != 0 {
		t.Fatalf("reminded of an expiry the store has not learnt yet")
	}
	if report, err := h.svc.Reconcile(ctx); err != nil || report.Applied == 0 {
		t.Fatalf("reconcile: %+v, %v", report, err)
	}
	if n, err := h.svc.SendCardExpiryReminders(ctx); err != nil || n != 1 {
		t.Errorf("after the reconciliation: %d reminders, %v; want one for the updated card", n, err)
	}

	// The link: a setup session whose card becomes the default.
	link := reminders[0].Link[strings.Index(reminders[0].Link, "/card/"):] // either replica's BASE_URL
	res := h.get(link)
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, stripe.server.URL+"/c/pay/cs_test_") {
		t.Fatalf("card link: %d %q", res.status, res.location)
	}
	sessionID := res.location[strings.LastIndex(res.location, "/")+1:]
	h.completeWith(sessionID, "5555555555554444", "exp@example.com")
	page := h.get("/success?session_id=" + sessionID)
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="made-default"`) || !strings.Contains(page.body, "4444") {
		t.Errorf("return page: %d %s", page.status, page.body)
	}
	customer, err := h.db.Customer(ctx, expiring.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	card, err := h.db.SavedPaymentMethod(ctx, customer.DefaultPaymentMethodID)
	if err != nil || card.Last4 != "4444" || card.ID == expiring.ID {
		t.Errorf("default card %+v, %v; want the new 4444 card", card, err)
	}
	if got := h.stripeDefault(customer.StripeID); got != card.ID {
		t.Errorf("Stripe's default is %q, want %s", got, card.ID)
	}
	if n, _ := h.svc.SendCardExpiryReminders(ctx); n != 0 {
		t.Errorf("reminded again after a new card was saved")
	}
	if outbox := h.admin("/admin/outbox", "admin", adminPassword); !strings.Contains(outbox.body, "card link") {
		t.Errorf("the outbox does not show the card link")
	}
}

// TestCardLinkThroughTheWebhook: the customer closes the tab after saving
// the card; the webhook makes it the default all the same.
func TestCardLinkThroughTheWebhook(t *testing.T) {
	h := newStoreWith(t, newStripe(t, stripeemu.Options{SecretKey: emulatorKey}), storeOptions{})
	ctx := context.Background()
	first := h.recordedCard("hook@example.com", "4242424242424242")
	res := h.get("/card/" + strings.TrimPrefix(h.svc.CardLink(first.CustomerID), h.store.URL+"/card/"))
	if res.status != http.StatusSeeOther {
		t.Fatalf("card link: %d", res.status)
	}
	sessionID := res.location[strings.LastIndex(res.location, "/")+1:]
	h.completeWith(sessionID, "5555555555554444", "hook@example.com")
	for _, e := range h.stripeEvents() {
		if e.Type == billing.EventCheckoutSessionCompleted && e.ObjectID == sessionID {
			if res := h.deliver(e); res.status != http.StatusOK {
				t.Fatalf("webhook: %d", res.status)
			}
		}
	}
	customer, _ := h.db.Customer(ctx, first.CustomerID)
	if customer.DefaultPaymentMethodID == first.ID || customer.DefaultPaymentMethodID == "" || h.stripeDefault(customer.StripeID) != customer.DefaultPaymentMethodID {
		t.Errorf("default %q here, %q on Stripe; want the new card in both", customer.DefaultPaymentMethodID, h.stripeDefault(customer.StripeID))
	}
}

func TestCardLinksThatCannotBeUsed(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("bad@example.com", "4242424242424242")
	token := strings.TrimPrefix(h.svc.CardLink(pm.CustomerID), h.store.URL+"/card/")
	recovery := strings.TrimPrefix(h.svc.RecoveryLink(pm.CustomerID), h.store.URL+"/pay/")
	before := h.snapshot()
	tampered := []byte(token) // another customer's id
	if tampered[10] == 'A' {
		tampered[10] = 'B'
	} else {
		tampered[10] = 'A'
	}
	for name, tc := range map[string]struct {
		path   string
		status int
	}{
		"tampered":             {"/card/" + string(tampered), http.StatusNotFound},
		"a payment link's key": {"/card/" + recovery, http.StatusNotFound},
		"garbage":              {"/card/nothing", http.StatusNotFound},
	} {
		if res := h.get(tc.path); res.status != tc.status {
			t.Errorf("%s: %d, want %d", name, res.status, tc.status)
		}
	}
	h.advance(billing.CardLinkTTL + time.Minute)
	if res := h.get("/card/" + token); res.status != http.StatusGone {
		t.Errorf("an expired link: %d, want 410", res.status)
	}
	if h.snapshot() != before {
		t.Errorf("a link that cannot be used changed the database")
	}
}

// TestRecoveryReminderOnce: an unpaid recovery link is recalled once, three
// days on, with the same link, which still expires at seven; a paid one is not.
func TestRecoveryReminderOnce(t *testing.T) {
	h := newHarness(t)
	other := newStore(t, &stripeSide{emu: h.emu, server: h.stripeServer}, h.db)
	ctx := context.Background()
	unpaid := h.chargeCard(h.recordedCard("unpaid@example.com", "4000000000000341").ID, "20.00", "usd")
	paid := h.chargeCard(h.recordedCard("paid@example.com", "4000000000000341").ID, "30.00", "usd")
	links := map[int64]string{}
	for _, n := range h.notifications() {
		links[n.ChargeAttemptID] = strings.TrimPrefix(n.Link, h.store.URL)
	}
	pay := h.get(links[paid.ID])
	sessionID := pay.location[strings.LastIndex(pay.location, "/")+1:]
	h.completeWith(sessionID, "5555555555554444", "paid@example.com")
	if res := h.get("/pay/complete?session_id=" + sessionID); res.status != http.StatusOK {
		t.Fatalf("pay: %d", res.status)
	}

	h.advance(3*24*time.Hour - time.Hour)
	if n, err := h.svc.SendRecoveryReminders(ctx); err != nil || n != 0 {
		t.Fatalf("before three days: %d reminders, %v", n, err)
	}
	h.advance(2 * time.Hour)
	other.advance(3*24*time.Hour + time.Hour)
	var wg sync.WaitGroup
	for _, store := range []*harness{h, other, h} {
		wg.Go(func() {
			if _, err := store.svc.SendRecoveryReminders(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	reminders := h.notificationsOfKind(billing.NotificationPaymentReminder)
	if len(reminders) != 1 || reminders[0].ChargeAttemptID != unpaid.ID || reminders[0].Link != h.store.URL+links[unpaid.ID] ||
		!strings.Contains(reminders[0].Body, reminders[0].Link) || !strings.Contains(reminders[0].Subject, "$20.00") {
		t.Fatalf("reminders %+v, want one for the unpaid charge, with its link", reminders)
	}
	h.advance(24 * time.Hour)
	if n, _ := h.svc.SendRecoveryReminders(ctx); n != 0 || len(h.notificationsOfKind(billing.NotificationPaymentReminder)) != 1 {
		t.Errorf("reminded again")
	}
	h.advance(3 * 24 * time.Hour)
	if res := h.get(links[unpaid.ID]); res.status != http.StatusGone {
		t.Errorf("the link after seven days: %d, want expired", res.status)
	}
}

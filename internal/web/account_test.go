package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

// post sends a public form, as a customer's browser does.
func (h *harness) post(path string, form url.Values) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.do(req)
}

// manageLink asks for a manage link by email and returns the path it
// emailed (the last manage_cards message), or "" when none was written.
func (h *harness) manageLink(email string) string {
	h.t.Helper()
	if res := h.post("/account", url.Values{"email": {email}}); res.status != http.StatusSeeOther || res.location != "/account?sent=1" {
		h.t.Fatalf("ask for a link: %d %q %s", res.status, res.location, res.body)
	}
	for _, n := range h.notificationsOfKind(billing.NotificationManageCards) { // newest first
		if n.Recipient == email {
			return strings.TrimPrefix(n.Link, h.store.URL)
		}
	}
	return ""
}

// customerCard is the customer of a card, as stored.
func (h *harness) customerOf(pm billing.PaymentMethod) billing.Customer {
	h.t.Helper()
	c, err := h.db.Customer(context.Background(), pm.CustomerID)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// cardAction presses a card action's button on the cards page, as the
// customer's browser (s) does: the confirmation, then, confirmed, the page
// it returns to, with its message.
func (h *harness) cardAction(s *shopper, link, action string, form url.Values) (confirm, done response) {
	h.t.Helper()
	confirm = s.post(link+"/"+action, form)
	if confirm.status != http.StatusOK {
		return confirm, confirm
	}
	form.Set("confirm", "yes")
	if done = s.post(link+"/"+action, form); done.status != http.StatusSeeOther {
		return confirm, done
	}
	return confirm, s.get(done.location)
}

// flashSays tells whether a page shows the message an action left for it.
func flashSays(page response, text string) bool {
	return strings.Contains(page.body, `id="flash" role="status">`+text+`</p>`)
}

// TestSecondCardFromThePublicFormLeavesTheDefault: anyone may type a
// customer's email into Save card; the card saved there is kept, but the
// customer's default changes only through their link, here and on Stripe.
func TestSecondCardFromThePublicFormLeavesTheDefault(t *testing.T) {
	h := newHarness(t)
	first := h.recordedCard("keep@example.com", "4242424242424242")
	if c := h.customerOf(first); c.DefaultPaymentMethodID != first.ID {
		t.Fatalf("the first card is not the default: %+v", c)
	}
	second := h.recordedCard("keep@example.com", "5555555555554444")
	c := h.customerOf(first)
	if second.CustomerID != first.CustomerID || c.DefaultPaymentMethodID != first.ID {
		t.Errorf("after a second card: default %q, want still %s", c.DefaultPaymentMethodID, first.ID)
	}
	if got := h.stripeDefault(c.StripeID); got == second.ID {
		t.Errorf("the second card became Stripe's default")
	}
	// Nor does a card fill a default the customer left empty.
	link, browser := h.manageLink("keep@example.com"), h.newShopper()
	for _, pm := range []billing.PaymentMethod{first, second} {
		if _, done := h.cardAction(browser, link, "remove", url.Values{"payment_method": {pm.ID}, "new_default": {"none"}}); done.status != http.StatusOK {
			t.Fatalf("remove %s: %d %s", pm.ID, done.status, done.body)
		}
	}
	third := h.recordedCard("keep@example.com", "378282246310005")
	if c := h.customerOf(third); c.DefaultPaymentMethodID != "" {
		t.Errorf("a card saved from the public form became the default of a customer who had none: %q", c.DefaultPaymentMethodID)
	}
}

// TestCustomerManagesCardsThroughTheEmailedLink: the customer asks for a
// link by email (the same answer whether or not the email is known), and
// through it sees their cards, makes one the default, removes one (choosing
// which card is charged instead), and adds one through Checkout; each
// action is confirmed first, said afterwards, made on Stripe too, and
// written to the audit log as the customer's.
func TestCustomerManagesCardsThroughTheEmailedLink(t *testing.T) {
	h := newHarness(t)
	visa := h.recordedCard("ann@example.com", "4242424242424242")
	master := h.recordedCard("ann@example.com", "5555555555554444")
	other := h.recordedCard("bob@example.com", "4242424242424242")
	customer := h.customerOf(visa)

	// Known and unknown emails get the same answer; only the known one a message.
	known := h.post("/account", url.Values{"email": {"ann@example.com"}})
	unknown := h.post("/account", url.Values{"email": {"nobody@example.com"}})
	if known.status != unknown.status || known.location != unknown.location || known.body != unknown.body {
		t.Errorf("known %d %q, unknown %d %q: the answers differ", known.status, known.location, unknown.status, unknown.location)
	}
	sent := h.get(known.location)
	if sent.status != http.StatusOK || !strings.Contains(sent.body, "Check your email") || strings.Contains(sent.body, "ann@example.com") {
		t.Errorf("the answer page: %d %s", sent.status, sent.body)
	}
	messages := h.notificationsOfKind(billing.NotificationManageCards)
	if len(messages) != 1 || messages[0].Recipient != "ann@example.com" || messages[0].CustomerID != customer.ID ||
		!strings.Contains(messages[0].Body, messages[0].Link) || !strings.Contains(messages[0].Link, "/account/") {
		t.Fatalf("messages %+v, want one to ann with the link", messages)
	}
	if jobs := h.sendJobs(); jobs["available"] != 1 {
		t.Errorf("send jobs %v, want the message's", jobs)
	}
	if res := h.post("/account", url.Values{"email": {"not an email"}}); res.status != http.StatusBadRequest ||
		!strings.Contains(res.body, `aria-invalid="true"`) || !strings.Contains(res.body, "not an email") {
		t.Errorf("a malformed email: %d", res.status)
	}
	link := strings.TrimPrefix(messages[0].Link, h.store.URL)

	page := h.get(link)
	if page.status != http.StatusOK {
		t.Fatalf("the cards page: %d %s", page.status, page.body)
	}
	for _, want := range []string{"Visa ···· 4242", "Mastercard ···· 4444", "12/2034", `id="default-badge"`, "ann@example.com"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the cards page lacks %q", want)
		}
	}
	if strings.Contains(page.body, other.ID) {
		t.Errorf("the cards page shows another customer's card")
	}

	// Make the Mastercard the default: confirmed, then done here and on Stripe.
	browser := h.newShopper()
	confirm, done := h.cardAction(browser, link, "default", url.Values{"payment_method": {master.ID}})
	if !strings.Contains(confirm.body, `id="confirm-question">We will charge Mastercard ···· 4444 for your future payments instead of Visa ···· 4242. Nothing is charged now.</p>`) {
		t.Errorf("the confirmation does not say what happens: %d %s", confirm.status, confirm.body)
	}
	if strings.Contains(confirm.body, "Audit log") {
		t.Errorf("the customer's confirmation shows the admin's menu")
	}
	if !flashSays(done, "Mastercard ···· 4444 is now the card we charge.") {
		t.Errorf("no message after making the default: %d %s", done.status, done.body)
	}
	if c := h.customerOf(visa); c.DefaultPaymentMethodID != master.ID || h.stripeDefault(c.StripeID) != master.ID {
		t.Errorf("default %q here, %q on Stripe; want %s", c.DefaultPaymentMethodID, h.stripeDefault(c.StripeID), master.ID)
	}

	// Remove the default: the customer chooses which card is charged instead.
	confirm, done = h.cardAction(browser, link, "remove", url.Values{"payment_method": {master.ID}, "new_default": {visa.ID}})
	if !strings.Contains(confirm.body, "Which card should we charge instead?") || !strings.Contains(confirm.body, `value="`+visa.ID+`" checked`) {
		t.Errorf("removing the default does not ask which card is charged instead: %s", confirm.body)
	}
	if !flashSays(done, "Mastercard ···· 4444 was removed. It can no longer be charged. Visa ···· 4242 is now the card we charge.") ||
		strings.Contains(done.body, `data-payment-method="`+master.ID+`"`) {
		t.Errorf("after removing: %s", done.body)
	}
	if pm := h.stripePaymentMethod(master.ID); pm.Customer != nil {
		t.Errorf("the card is still attached on Stripe")
	}
	if c := h.customerOf(visa); c.DefaultPaymentMethodID != visa.ID || h.stripeDefault(c.StripeID) != visa.ID {
		t.Errorf("default %q here, %q on Stripe; want %s", c.DefaultPaymentMethodID, h.stripeDefault(c.StripeID), visa.ID)
	}
	actions := h.auditActors()
	for _, want := range []string{"customer:ann@example.com card.default", "customer:ann@example.com card.detach"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log %v lacks %q", actions, want)
		}
	}

	// Someone else's card, or a made-up one, is refused with nothing changed.
	before := h.snapshot()
	for _, pm := range []string{other.ID, "pm_nothing", ""} {
		if _, res := h.cardAction(browser, link, "remove", url.Values{"payment_method": {pm}}); res.status != http.StatusBadRequest ||
			!strings.Contains(res.body, "Choose one of your saved cards.") {
			t.Errorf("remove %q: %d", pm, res.status)
		}
	}
	if h.snapshot() != before {
		t.Errorf("a refused action changed the database")
	}

	// Add a card through Checkout, as the default, and back on the cards page.
	add := h.post(link+"/add", url.Values{"make_default": {"yes"}})
	if add.status != http.StatusSeeOther || !strings.Contains(add.location, "/c/pay/cs_test_") {
		t.Fatalf("add: %d %q", add.status, add.location)
	}
	session := add.location[strings.LastIndex(add.location, "/")+1:]
	if s := h.stripeSession(session); !strings.HasPrefix(s.SuccessURL, h.store.URL+link+"?session_id=") || s.Customer == nil || s.Customer.ID != customer.StripeID {
		t.Errorf("the session returns to %q for %v", s.SuccessURL, s.Customer)
	}
	h.completeWith(session, "378282246310005", "ann@example.com")
	back := browser.get(link + "?session_id=" + session)
	if back.status != http.StatusSeeOther || back.location != link {
		t.Fatalf("back from Checkout: %d %q", back.status, back.location)
	}
	if page := browser.get(back.location); !flashSays(page, "American Express ···· 0005 is saved, and is now the card we charge.") {
		t.Errorf("back from Checkout: %d %s", page.status, page.body)
	}
	amex, err := h.db.SessionPaymentMethod(context.Background(), session)
	if err != nil {
		t.Fatal(err)
	}
	if c := h.customerOf(visa); c.DefaultPaymentMethodID != amex.ID || h.stripeDefault(c.StripeID) != amex.ID {
		t.Errorf("default %q here, %q on Stripe; want the new card %s", c.DefaultPaymentMethodID, h.stripeDefault(c.StripeID), amex.ID)
	}
	// Another, not as the default; and one abandoned on Checkout's page.
	add = h.post(link+"/add", url.Values{})
	session = add.location[strings.LastIndex(add.location, "/")+1:]
	h.completeWith(session, "5555555555554444", "ann@example.com")
	if back := browser.get(link + "?session_id=" + session); !flashSays(browser.get(back.location), "Mastercard ···· 4444 is saved.") {
		t.Errorf("back from Checkout without asking for the default: no message")
	}
	if c := h.customerOf(visa); c.DefaultPaymentMethodID != amex.ID {
		t.Errorf("a card added without asking became the default")
	}
	if s := h.stripeSession(session); s.CancelURL != h.store.URL+link+"?canceled=1" {
		t.Errorf("cancel_url %q", s.CancelURL)
	} else if back := browser.get(link + "?canceled=1"); !flashSays(browser.get(back.location), "No card was added.") {
		t.Errorf("back from Checkout without a card: no message")
	}
}

// TestManageLinksThatCannotBeUsed: an expired, tampered or foreign link
// opens nothing and changes nothing; its page offers to send a new one.
func TestManageLinksThatCannotBeUsed(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("late@example.com", "4242424242424242")
	link := h.manageLink("late@example.com")
	token := strings.TrimPrefix(link, "/account/")
	tampered := []byte(token)
	if tampered[5] == 'A' {
		tampered[5] = 'B'
	} else {
		tampered[5] = 'A'
	}
	cardToken := strings.TrimPrefix(h.svc.CardLink(pm.CustomerID), h.store.URL+"/card/")
	before := h.snapshot()
	offersNewLink := func(name string, res response, status int) {
		t.Helper()
		if res.status != status || !strings.Contains(res.body, `action="/account"`) || !strings.Contains(res.body, `name="email"`) {
			t.Errorf("%s: %d, want %d and a form to send a new link: %s", name, res.status, status, res.body)
		}
		if strings.Contains(res.body, "4242") {
			t.Errorf("%s shows the card", name)
		}
	}
	for name, path := range map[string]string{
		"tampered":          "/account/" + string(tampered),
		"a card link's key": "/account/" + cardToken,
		"garbage":           "/account/nothing",
	} {
		offersNewLink(name, h.get(path), http.StatusNotFound)
		offersNewLink(name+", remove", h.post(path+"/remove", url.Values{"payment_method": {pm.ID}, "confirm": {"yes"}}), http.StatusNotFound)
	}
	h.advance(billing.ManageLinkTTL + time.Minute)
	expired := h.get(link)
	offersNewLink("expired", expired, http.StatusGone)
	if !strings.Contains(expired.body, "This link has expired") {
		t.Errorf("the expired page does not say so")
	}
	for _, action := range []string{"remove", "default", "add"} {
		offersNewLink("expired, "+action, h.post(link+"/"+action, url.Values{"payment_method": {pm.ID}, "confirm": {"yes"}}), http.StatusGone)
	}
	if h.snapshot() != before {
		t.Errorf("a link that cannot be used changed the database")
	}
	// The form on that page sends a new link, which works.
	fresh := h.manageLink("late@example.com")
	if fresh == link || h.get(fresh).status != http.StatusOK {
		t.Errorf("the new link %q does not open the cards page", fresh)
	}
}

// TestManageLinkRequestsAreLimited: one email cannot be flooded with links.
func TestManageLinkRequestsAreLimited(t *testing.T) {
	h := newHarness(t)
	h.recordedCard("flood@example.com", "4242424242424242")
	limited := 0
	for range 15 {
		if res := h.post("/account", url.Values{"email": {"flood@example.com"}}); res.status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 || len(h.notificationsOfKind(billing.NotificationManageCards)) > 10 {
		t.Errorf("%d of 15 requests limited, %d messages written", limited, len(h.notificationsOfKind(billing.NotificationManageCards)))
	}
}

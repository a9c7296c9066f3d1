package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// staffBrowser is staff at a browser: a shopper's cookie jar, so the
// message an action leaves for the next page (a cookie) is carried there,
// and Basic auth.
type staffBrowser struct {
	h *harness
	*shopper
}

func (h *harness) newStaffBrowser() *staffBrowser {
	return &staffBrowser{h: h, shopper: h.newShopper()}
}

func (b *staffBrowser) send(method, path string, form url.Values) response {
	b.h.t.Helper()
	req, _ := http.NewRequest(method, b.h.store.URL+path, strings.NewReader(form.Encode()))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth("admin", adminPassword)
	return b.do(req)
}

// ask presses an action's button: the confirmation page, which must ask question.
func (b *staffBrowser) ask(path string, form url.Values, question string) response {
	b.h.t.Helper()
	res := b.send(http.MethodPost, path, form)
	if res.status != http.StatusOK || !strings.Contains(res.body, `id="confirm-question">`+question+`</p>`) {
		b.h.t.Fatalf("%s asks (%d), want %q:\n%s", path, res.status, question, res.body)
	}
	return res
}

// confirm presses the confirmation's button and returns the page it leads
// to, which must show flash; the page shows it once.
func (b *staffBrowser) confirm(path string, form url.Values, flash string) response {
	b.h.t.Helper()
	confirmed := url.Values{"confirm": {"yes"}}
	for k, v := range form {
		confirmed[k] = v
	}
	res := b.send(http.MethodPost, path, confirmed)
	if res.status != http.StatusSeeOther {
		b.h.t.Fatalf("confirm %s: %d %s", path, res.status, res.body)
	}
	page := b.send(http.MethodGet, res.location, nil)
	if want := `id="flash" role="status">` + flash + `</p>`; !strings.Contains(page.body, want) {
		b.h.t.Errorf("after %s, %s does not say %q:\n%s", path, res.location, flash, page.body)
	}
	if again := b.send(http.MethodGet, res.location, nil); strings.Contains(again.body, `id="flash"`) {
		b.h.t.Errorf("%s shows the message of %s again on reload", res.location, path)
	}
	page.location = res.location
	return page
}

func (h *harness) auditCount() int {
	h.t.Helper()
	return h.count("audit_log")
}

// TestEveryCardActionAsksFirstAndSaysWhatItDid: charge, make default,
// detach (of the default card, choosing the next default, and of the last
// card) and replay each show what they would do and change nothing; once
// confirmed, the page they return to says what they did.
func TestEveryCardActionAsksFirstAndSaysWhatItDid(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	visa := h.recordedCard("jane@example.com", "4242424242424242")
	master := h.recordedCard("jane@example.com", "5555555555554444")
	customer := "/admin/customers/" + strconv.FormatInt(visa.CustomerID, 10)
	b := h.newStaffBrowser()
	audited := h.auditCount()

	charge := url.Values{"payment_method": {visa.ID}, "amount": {"25"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()}}
	b.ask("/admin/charges", charge, "Charge $25.00 to Visa ···· 4242, jane@example.com?")
	b.ask(customer+"/default", url.Values{"payment_method": {master.ID}},
		"Make Mastercard ···· 4444 the default card of jane@example.com, instead of Visa ···· 4242?")
	ask := b.ask(customer+"/detach", url.Values{"payment_method": {visa.ID}}, "Detach Visa ···· 4242 from jane@example.com?")
	for _, want := range []string{"Which card becomes the default?", `value="` + master.ID + `" checked> Mastercard ···· 4444, expires 12/2034`, `value="none"> None`} {
		if !strings.Contains(ask.body, want) {
			t.Errorf("detaching the default card does not offer %q:\n%s", want, ask.body)
		}
	}
	completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
	if res := h.deliver(completed); res.status != http.StatusOK {
		t.Fatalf("deliver %s: %d", completed.ID, res.status)
	}
	replay := url.Values{"customer": {strconv.FormatInt(visa.CustomerID, 10)}}
	b.ask("/admin/events/"+completed.ID+"/replay", replay, "Apply the checkout.session.completed event "+completed.ID+" again?")
	if h.count("charge_attempts") != 0 || h.auditCount() != audited || h.stripeCount("/v1/payment_intents") != 0 {
		t.Fatal("a confirmation step did something")
	}
	if c, _ := h.db.Customer(ctx, visa.CustomerID); c.DefaultPaymentMethodID != visa.ID {
		t.Fatalf("a confirmation step changed the default card to %s", c.DefaultPaymentMethodID)
	}

	page := b.confirm("/admin/charges", charge, "Charged $25.00 to Visa ···· 4242.")
	if !strings.HasPrefix(page.location, "/admin/charges/") {
		t.Errorf("the charge returned to %s", page.location)
	}
	b.confirm(customer+"/default", url.Values{"payment_method": {master.ID}}, "Mastercard ···· 4444 is now the default card.")
	b.confirm(customer+"/detach", url.Values{"payment_method": {master.ID}, "new_default": {visa.ID}},
		"Mastercard ···· 4444 is detached. Visa ···· 4242 is now the default card.")
	if c, _ := h.db.Customer(ctx, visa.CustomerID); c.DefaultPaymentMethodID != visa.ID {
		t.Errorf("after detaching the default card, the default is %q, want the card chosen", c.DefaultPaymentMethodID)
	}
	b.ask(customer+"/detach", url.Values{"payment_method": {visa.ID}},
		"Detach Visa ···· 4242 from jane@example.com? It is the default card and the customer has no other, so there will be no default card.")
	b.confirm(customer+"/detach", url.Values{"payment_method": {visa.ID}}, "Visa ···· 4242 is detached. The customer has no default card now.")
	b.confirm("/admin/events/"+completed.ID+"/replay", replay, "The checkout.session.completed event "+completed.ID+" was applied again.")
	// Five confirmed actions; the detach that chose the next default is two entries.
	if n := h.auditCount() - audited; n != 6 {
		t.Errorf("%d audit entries, want 6", n)
	}
}

// TestDetachingTheDefaultCardMayLeaveNone: "None" on the confirmation
// leaves the customer without a default card, as it says.
func TestDetachingTheDefaultCardMayLeaveNone(t *testing.T) {
	h := newHarness(t)
	visa := h.recordedCard("none@example.com", "4242424242424242")
	h.recordedCard("none@example.com", "5555555555554444")
	customer := "/admin/customers/" + strconv.FormatInt(visa.CustomerID, 10)
	h.newStaffBrowser().confirm(customer+"/detach", url.Values{"payment_method": {visa.ID}, "new_default": {"none"}},
		"Visa ···· 4242 is detached. The customer has no default card now.")
	if c, _ := h.db.Customer(context.Background(), visa.CustomerID); c.DefaultPaymentMethodID != "" {
		t.Errorf("default %q, want none", c.DefaultPaymentMethodID)
	}
}

// TestOrderActionsSayWhatTheyDid: an order's charge, refund and
// cancellation each ask first and end with their message.
func TestOrderActionsSayWhatTheyDid(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["T-shirt"], "1", "ann@example.com", "4242424242424242")
	order := "/admin/orders/" + strconv.FormatInt(o.ID, 10)
	b := h.newStaffBrowser()
	b.ask(order+"/charge", nil, "Charge $10.99 to Visa ···· 4242, ann@example.com, order "+o.Number()+"?")
	b.confirm(order+"/charge", nil, "Charged $10.99 to Visa ···· 4242 for order "+o.Number()+".")
	refund := url.Values{"amount": {"4"}, "key": {billing.NewIdempotencyKey()}}
	b.ask(order+"/refund", refund, "Refund $4.00 of the $10.99 paid to Visa ···· 4242, ann@example.com, order "+o.Number()+"?")
	b.confirm(order+"/refund", refund, "Refunded $4.00 of order "+o.Number()+" to Visa ···· 4242.")
	if got := h.orderByID(o.ID); got.Status != shop.PartiallyRefunded {
		t.Errorf("after the refund: %s", got.Status)
	}
	other := h.placeOrder(h.catalog()["Mug"], "1", "bo@example.com", "4242424242424242")
	b.confirm("/admin/orders/"+strconv.FormatInt(other.ID, 10)+"/cancel", nil, "Order "+other.Number()+" is canceled.")
}

// TestAFlashMessageIsTheServersOwn: a message cookie the store did not
// sign is not shown: nobody can make the admin read "Refunded everything".
func TestAFlashMessageIsTheServersOwn(t *testing.T) {
	h := newHarness(t)
	for name, value := range map[string]string{
		"unsigned": "9999999999.i.UmVmdW5kZWQgZXZlcnl0aGluZw",
		"forged":   "9999999999.i.UmVmdW5kZWQgZXZlcnl0aGluZw.bm90IGEgbWFj",
		"garbage":  "%%%",
	} {
		req, _ := http.NewRequest(http.MethodGet, h.store.URL+"/admin", nil)
		req.SetBasicAuth("admin", adminPassword)
		req.AddCookie(&http.Cookie{Name: "storefront_flash", Value: value})
		if res := h.do(req); strings.Contains(res.body, `id="flash"`) || strings.Contains(res.body, "Refunded everything") {
			t.Errorf("%s cookie shown as a message", name)
		}
	}
}

// rawID finds a Stripe id of a card or a payment shown as text, outside the
// detail lines (class="detail") where ids belong; attributes are not text.
var (
	detailLine = regexp.MustCompile(`(?s)<(code|p|span) class="detail">.*?</(code|p|span)>`)
	anyTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	stripeID   = regexp.MustCompile(`\b(pm|pi)_[A-Za-z0-9]+`)
)

func rawIDs(body string) []string {
	text := anyTag.ReplaceAllString(detailLine.ReplaceAllString(body, ""), "")
	return stripeID.FindAllString(text, -1)
}

// TestPagesNameCardsAndMoneyForPeople: the customer page, a charge, the
// card list and the orders show "$10.99" and "Visa ···· 0341", never a raw
// pm_ or pi_ id outside a detail line, and a card whose last charge failed
// is failing, with why.
func TestPagesNameCardsAndMoneyForPeople(t *testing.T) {
	h := newHarness(t)
	declining := h.recordedCard("max@example.com", "4000000000000341")
	declined := h.chargeCard(declining.ID, "10.99", "usd")
	good := h.recordedCard("ann@example.com", "4242424242424242")
	paid := h.chargeCard(good.ID, "1234.50", "usd")
	o := h.placeOrder(h.catalog()["T-shirt"], "1", "ann@example.com", "4242424242424242")
	if _, err := h.shop.ChargeOrder(context.Background(), staffActor(), o.ID); err != nil {
		t.Fatal(err)
	}

	pages := map[string][]string{
		"/admin/customers/" + strconv.FormatInt(declining.CustomerID, 10): {
			"$10.99", "Visa ···· 0341", `data-status="failing" title="Stripe: card_declined / generic_decline">failing</span>`,
			"Last charge: the bank declined without saying why", `data-status="declined"`, `<option value="usd" selected>USD</option>`,
			`<label class="sr" for="amount-` + declining.ID + `">Amount to charge Visa ···· 0341</label>`, `aria-label="Currency of the charge to Visa ···· 0341"`,
			`Charge…<span class="sr"> Visa ···· 0341</span>`, `Detach…<span class="sr"> Visa ···· 0341</span>`,
		},
		"/admin/charges/" + strconv.FormatInt(declined.ID, 10): {
			"Charge of $10.99", "Visa ···· 0341", "the bank declined without saying why", `data-status="declined"`,
		},
		"/admin/charges/" + strconv.FormatInt(paid.ID, 10): {"Charge of $1,234.50", "Visa ···· 4242", `data-status="succeeded"`},
		"/admin?filter=failing":                            {"Visa ···· 0341", `data-status="failing"`, "the bank declined without saying why"},
		"/admin/orders":                                    {"$10.99", "Visa ···· 4242", `data-status="paid"`},
		"/admin/orders/" + strconv.FormatInt(o.ID, 10):     {"$10.99", "Visa ···· 4242", `data-status="paid"`},
		"/admin/products":                                  {`<select id="currency" name="currency"`, `<option value="jpy">JPY</option>`},
	}
	for path, wants := range pages {
		res := h.admin(path, "admin", adminPassword)
		if res.status != http.StatusOK {
			t.Errorf("%s: %d", path, res.status)
			continue
		}
		for _, want := range wants {
			if !strings.Contains(res.body, want) {
				t.Errorf("%s does not show %q", path, want)
			}
		}
		if ids := rawIDs(res.body); len(ids) > 0 {
			t.Errorf("%s shows raw ids outside a detail line: %v", path, ids)
		}
		if strings.Contains(res.body, "USD 10.99") {
			t.Errorf("%s shows a machine amount", path)
		}
	}
	if res := h.admin("/admin", "admin", adminPassword); !strings.Contains(res.body, `data-payment-method="`+good.ID+`"`) ||
		strings.Count(res.body, `data-status="failing"`) != 1 {
		t.Errorf("the card list marks %d cards failing, want the one whose last charge failed", strings.Count(res.body, `data-status="failing"`))
	}
}

// TestARefusedChargeNamesItsField: the refusal is tied to the input it is
// about, in the row of the card, and the input is kept.
func TestARefusedChargeNamesItsField(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("err@example.com", "4242424242424242")
	for field, form := range map[string]url.Values{
		"amount":   {"payment_method": {pm.ID}, "amount": {"10.999"}, "currency": {"usd"}},
		"currency": {"payment_method": {pm.ID}, "amount": {"10"}, "currency": {"xyz"}},
	} {
		res := h.adminAsk("/admin/charges", form)
		want := `id="amount-` + pm.ID + `" name="amount"`
		if field == "currency" {
			want = `id="currency-` + pm.ID + `" name="currency"`
		}
		i := strings.Index(res.body, want)
		if res.status != http.StatusBadRequest || i < 0 || !strings.Contains(res.body, `<p class="error" id="charge-error" role="alert">`) {
			t.Fatalf("%s: %d\n%s", field, res.status, res.body)
		}
		if tag := res.body[i : strings.Index(res.body[i:], ">")+i]; !strings.Contains(tag, `aria-invalid="true" aria-describedby="charge-error"`) {
			t.Errorf("%s: the refused input is not marked: %s", field, tag)
		}
	}
}

// TestADeclinedChargeWarns: a charge the bank declines says why, as a warning.
func TestADeclinedChargeWarns(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("warn@example.com", "4000000000000341")
	page := h.newStaffBrowser().confirm("/admin/charges", url.Values{"payment_method": {pm.ID}, "amount": {"10"}, "currency": {"usd"}},
		"The charge of $10.00 to Visa ···· 0341 did not go through: the bank declined without saying why.")
	if !strings.Contains(page.body, `<p class="flash flash-warn" id="flash"`) {
		t.Error("a declined charge's message is not a warning")
	}
}

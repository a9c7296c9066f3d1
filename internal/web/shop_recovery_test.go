package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// sessionCreates records the form of every Checkout Session create sent to Stripe.
func (h *harness) sessionCreates() func() []url.Values {
	var (
		mu   sync.Mutex
		seen []url.Values
	)
	hook := func(r *http.Request, body []byte) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions" {
			form, _ := url.ParseQuery(string(body))
			mu.Lock()
			seen = append(seen, form)
			mu.Unlock()
		}
	}
	h.stripe.seen.Store(&hook)
	return func() []url.Values {
		mu.Lock()
		defer mu.Unlock()
		return append([]url.Values(nil), seen...)
	}
}

func TestAFailedOrderChargeIsRecoveredWithTheOrdersLines(t *testing.T) {
	h := newHarness(t)
	products := h.catalog()
	s := h.newShopper()
	s.add(products["T-shirt"], "2")
	s.add(products["Sticker pack"], "1")
	session := s.checkout("max@example.com")
	h.completeWith(session, "4000000000000341", "max@example.com")
	s.get("/success?session_id=" + session)
	o := h.order(session)

	if _, done := h.orderAction(o, "charge", nil); done.status != http.StatusSeeOther {
		t.Fatalf("charge: %d", done.status)
	}
	if o = h.orderByID(o.ID); o.Status != shop.PaymentFailed {
		t.Fatalf("after a declined charge: %s", o.Status)
	}
	var failed *billing.Notification
	for _, n := range h.notifications() {
		if n.Kind == billing.NotificationPaymentFailed {
			failed = &n
		}
	}
	if failed == nil || !strings.Contains(failed.Body, "for Order "+o.Number()) || !strings.Contains(failed.Link, "/pay/") {
		t.Fatalf("failure email: %+v", failed)
	}

	sessions := h.sessionCreates()
	res := h.get(strings.TrimPrefix(failed.Link, h.store.URL))
	if res.status != http.StatusSeeOther {
		t.Fatalf("recovery link: %d %s", res.status, res.body)
	}
	created := sessions()
	if len(created) != 1 {
		t.Fatalf("%d sessions created, want 1", len(created))
	}
	form := created[0]
	for i, want := range []struct {
		name, unit, quantity string
	}{{"T-shirt", "1099", "2"}, {"Sticker pack", "400", "1"}} {
		item := "line_items[" + strconv.Itoa(i) + "]"
		got := []string{form.Get(item + "[price_data][product_data][name]"), form.Get(item + "[price_data][unit_amount]"), form.Get(item + "[quantity]")}
		if got[0] != want.name || got[1] != want.unit || got[2] != want.quantity {
			t.Errorf("%s: %v, want %+v", item, got, want)
		}
	}
	if form.Get("line_items[2][quantity]") != "" || form.Get("mode") != "payment" {
		t.Errorf("the recovery session is not the order's two lines in payment mode: %v", form)
	}

	recovery := res.location[strings.LastIndex(res.location, "/")+1:]
	h.completeWith(recovery, "4242424242424242", "max@example.com")
	if page := h.get("/pay/complete?session_id=" + recovery); !strings.Contains(page.body, "Payment received") {
		t.Fatalf("recovery return page: %d %s", page.status, page.body)
	}
	if o = h.orderByID(o.ID); o.Status != shop.Paid {
		t.Errorf("after the recovery payment: %s", o.Status)
	}
	if page := h.admin("/admin/orders/"+strconv.FormatInt(o.ID, 10), "admin", adminPassword); !strings.Contains(page.body, `id="order-recovered"`) {
		t.Error("the order page does not say the payment was recovered")
	}
	if n := h.orderNotifications(o.ID, shop.NotificationOrderReceipt); len(n) != 1 {
		t.Errorf("%d receipts, want 1", len(n))
	}
}

func TestTheWebhookPlacesAnOrderOnce(t *testing.T) {
	h := newHarness(t)
	s := h.newShopper()
	s.add(h.catalog()["Mug"], "3")
	session := s.checkout("lee@example.com")
	h.completeWith(session, "4242424242424242", "lee@example.com")

	completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
	for range 2 {
		if res := h.deliver(completed); res.status != http.StatusOK {
			t.Fatalf("webhook: %d %s", res.status, res.body)
		}
	}
	o := h.order(session)
	if o.Status != shop.Placed || o.Card == nil {
		t.Fatalf("after the webhook: %s %+v", o.Status, o.Card)
	}
	if page := s.get("/success?session_id=" + session); !strings.Contains(page.body, o.Number()) || !strings.Contains(page.body, "$43.50") {
		t.Errorf("the success page after the webhook: %s", page.body)
	}
	if n := h.orderNotifications(o.ID, shop.NotificationOrderConfirmation); len(n) != 1 {
		t.Errorf("%d confirmations, want 1", len(n))
	}
}

func TestRefundsMadeOnStripeShowOnTheOrder(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["T-shirt"], "2", "kim@example.com", "4242424242424242")
	if _, done := h.orderAction(o, "charge", nil); done.status != http.StatusSeeOther {
		t.Fatalf("charge: %d", done.status)
	}
	d, err := h.shop.OrderDetail(asStaff(), o.ID)
	if err != nil || d.Paid == nil {
		t.Fatalf("order detail: %+v %v", d, err)
	}
	// A refund made on Stripe's dashboard.
	req, _ := http.NewRequest(http.MethodPost, h.stripeServer.URL+"/v1/refunds",
		strings.NewReader(url.Values{"payment_intent": {d.Paid.PaymentIntentID}, "amount": {"700"}}.Encode()))
	req.Header.Set("Authorization", "Bearer sk_test_harness")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("refund on Stripe: %v %v", res, err)
	}
	events := h.stripeEvents()
	for _, typ := range []string{billing.EventChargeRefunded, billing.EventRefundCreated} {
		if res := h.deliver(eventOfType(t, events, typ)); res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", typ, res.status, res.body)
		}
	}
	if got := h.orderByID(o.ID); got.Status != shop.PartiallyRefunded {
		t.Errorf("after Stripe's refund events: %s", got.Status)
	}
	page := h.admin("/admin/orders/"+strconv.FormatInt(o.ID, 10), "admin", adminPassword)
	if !strings.Contains(page.body, "$7.00") || !strings.Contains(page.body, "made on Stripe") || !strings.Contains(page.body, "$14.98 left") {
		t.Errorf("the order page does not show Stripe's refund:\n%s", page.body)
	}
}

func TestCancelingAFailedOrderWithdrawsItsPaymentLink(t *testing.T) {
	h := newHarness(t)
	products := h.catalog()
	placed := h.placeOrder(products["Mug"], "1", "ola@example.com", "4242424242424242")
	confirm, done := h.orderAction(placed, "cancel", nil)
	if !strings.Contains(confirm.body, "Cancel order "+placed.Number()) || done.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", done.status, confirm.body)
	}
	if got := h.orderByID(placed.ID); got.Status != shop.Canceled {
		t.Errorf("after cancel: %s", got.Status)
	}
	if res := h.adminPost("/admin/orders/"+strconv.FormatInt(placed.ID, 10)+"/charge", url.Values{"confirm": {"yes"}}); res.status != http.StatusBadRequest {
		t.Errorf("charge of a canceled order: %d, want 400", res.status)
	}

	failed := h.placeOrder(products["T-shirt"], "1", "ola@example.com", "4000000000000341")
	h.orderAction(failed, "charge", nil)
	if got := h.orderByID(failed.ID); got.Status != shop.PaymentFailed {
		t.Fatalf("declined: %s", got.Status)
	}
	var link string
	for _, n := range h.notifications() {
		if n.Kind == billing.NotificationPaymentFailed {
			link = strings.TrimPrefix(n.Link, h.store.URL)
		}
	}
	if res := h.get(link); res.status != http.StatusSeeOther {
		t.Fatalf("the payment link before cancel: %d", res.status)
	}
	if _, done := h.orderAction(failed, "cancel", nil); done.status != http.StatusSeeOther {
		t.Fatalf("cancel of a failed order: %d %s", done.status, done.body)
	}
	if res := h.get(link); res.status != http.StatusGone || !strings.Contains(res.body, "no longer due") {
		t.Errorf("the payment link after cancel: %d %s", res.status, res.body)
	}
	if n := h.stripeCount("/v1/checkout/sessions?status=open"); n != 0 {
		t.Errorf("%d sessions still open on Stripe after the cancel", n)
	}
}

func TestOrderListFiltersSearchesAndPages(t *testing.T) {
	h := newHarness(t)
	products := h.catalog()
	a := h.placeOrder(products["Mug"], "1", "amy@example.com", "4242424242424242")
	b := h.placeOrder(products["Mug"], "2", "bea@example.com", "4242424242424242")
	h.orderAction(b, "charge", nil)

	list := h.admin("/admin/orders", "admin", adminPassword)
	for _, want := range []string{a.Number(), b.Number(), "<strong>1</strong> placed", "<strong>1</strong> paid", "$29.00"} {
		if !strings.Contains(list.body, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	for query, want := range map[string][]string{
		"?status=paid":                           {b.Number()},
		"?status=placed":                         {a.Number()},
		"?q=bea":                                 {b.Number()},
		"?q=" + url.QueryEscape(a.Number()):      {a.Number()},
		"?before=" + strconv.FormatInt(b.ID, 10): {a.Number()},
	} {
		page := h.admin("/admin/orders"+query, "admin", adminPassword)
		for _, o := range []shop.Order{a, b} {
			shown := strings.Contains(page.body, `data-order="`+strconv.FormatInt(o.ID, 10)+`"`)
			if shown != (o.Number() == want[0]) {
				t.Errorf("%s: order %s shown %v", query, o.Number(), shown)
			}
		}
	}
	for _, bad := range []string{"?status=lost", "?before=x"} {
		if res := h.admin("/admin/orders"+bad, "admin", adminPassword); res.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, res.status)
		}
	}
}

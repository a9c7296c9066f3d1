package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/staff"
	"github.com/storefront/storefront/internal/stripeemu"
)

// shopper is a customer's browser: its own cookies (the cart), no redirects followed.
type shopper struct {
	h      *harness
	client *http.Client
}

func (h *harness) newShopper() *shopper {
	jar, _ := cookiejar.New(nil)
	return &shopper{h: h, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (s *shopper) get(path string) response {
	s.h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.h.store.URL+path, nil)
	return s.do(req)
}

func (s *shopper) post(path string, form url.Values) response {
	s.h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.h.store.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

func (s *shopper) do(req *http.Request) response {
	s.h.t.Helper()
	old := s.h.client
	s.h.client = s.client
	defer func() { s.h.client = old }()
	return s.h.do(req)
}

// catalog seeds the demo catalog and returns its products by name.
func (h *harness) catalog() map[string]shop.Product {
	h.t.Helper()
	if _, err := h.shop.SeedDemoCatalog(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	list, err := h.shop.Products(context.Background(), false)
	if err != nil {
		h.t.Fatal(err)
	}
	byName := map[string]shop.Product{}
	for _, p := range list {
		byName[p.Name] = p
	}
	return byName
}

func (s *shopper) add(p shop.Product, quantity string) response {
	s.h.t.Helper()
	return s.post("/cart", url.Values{"product": {strconv.FormatInt(p.ID, 10)}, "quantity": {quantity}})
}

// checkout presses Save card and place order and returns the session it went to.
func (s *shopper) checkout(email string) string {
	s.h.t.Helper()
	res := s.post("/checkout", url.Values{"email": {email}, "key": {billing.NewIdempotencyKey()}})
	if res.status != http.StatusSeeOther {
		s.h.t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	id := res.location[strings.LastIndex(res.location, "/")+1:]
	if !strings.HasPrefix(id, "cs_") {
		s.h.t.Fatalf("checkout went to %q", res.location)
	}
	return id
}

// placeOrder buys quantity of p with a card and returns the placed order.
func (h *harness) placeOrder(p shop.Product, quantity, email, card string) shop.Order {
	h.t.Helper()
	s := h.newShopper()
	if res := s.add(p, quantity); res.status != http.StatusSeeOther {
		h.t.Fatalf("add to cart: %d %s", res.status, res.body)
	}
	session := s.checkout(email)
	h.completeWith(session, card, email)
	if res := s.get("/success?session_id=" + session); res.status != http.StatusOK || !strings.Contains(res.body, "is placed") {
		h.t.Fatalf("success page: %d %s", res.status, res.body)
	}
	return h.order(session)
}

func (h *harness) order(sessionID string) shop.Order {
	h.t.Helper()
	o, err := h.db.OrderOfSession(context.Background(), sessionID)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

func (h *harness) orderByID(id int64) shop.Order {
	h.t.Helper()
	o, err := h.db.Order(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

// orderAction posts an order action, first without and then with the confirmation.
func (h *harness) orderAction(o shop.Order, action string, form url.Values) (confirm, done response) {
	h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	path := "/admin/orders/" + strconv.FormatInt(o.ID, 10) + "/" + action
	confirm = h.adminAsk(path, form)
	if confirm.status != http.StatusOK {
		return confirm, confirm
	}
	form.Set("confirm", "yes")
	return confirm, h.adminPost(path, form)
}

func (h *harness) orderNotifications(orderID int64, kind string) []billing.Notification {
	h.t.Helper()
	var out []billing.Notification
	for _, n := range h.notifications() {
		if n.OrderID == orderID && n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

func TestStorefrontSellsAndTheAdminChargesAndRefunds(t *testing.T) {
	h := newHarness(t)
	products := h.catalog()
	tshirt := products["T-shirt"]
	s := h.newShopper()

	home := s.get("/")
	for _, want := range []string{"T-shirt", "$10.99", "Add to cart", `action="/cart"`, "Save card"} {
		if !strings.Contains(home.body, want) {
			t.Errorf("the store page lacks %q", want)
		}
	}
	if res := s.add(tshirt, "2"); res.status != http.StatusSeeOther || res.location != "/cart" {
		t.Fatalf("add to cart: %d %q", res.status, res.location)
	}
	cart := s.get("/cart")
	for _, want := range []string{"T-shirt", "$21.98", "Save card and place order"} {
		if !strings.Contains(cart.body, want) {
			t.Errorf("the cart lacks %q:\n%s", want, cart.body)
		}
	}

	session := s.checkout("jane@example.com")
	if o := h.order(session); o.Status != shop.AwaitingCard || o.Total != (billing.Money{Amount: 2198, Currency: "usd"}) {
		t.Errorf("order at checkout: %s %v", o.Status, o.Total)
	}
	if remote := h.emuGet("/v1/checkout/sessions/" + session); !strings.Contains(remote, `"order_id": "`+strconv.FormatInt(h.order(session).ID, 10)+`"`) || !strings.Contains(remote, `"mode": "setup"`) {
		t.Errorf("the session does not name its order in metadata: %s", remote)
	}
	h.completeWith(session, "4242424242424242", "jane@example.com")
	success := s.get("/success?session_id=" + session)
	o := h.order(session)
	for _, want := range []string{o.Number(), "T-shirt", "$21.98", "Visa ···· 4242", "is placed"} {
		if !strings.Contains(success.body, want) {
			t.Errorf("the success page lacks %q", want)
		}
	}
	if o.Status != shop.Placed || o.Card == nil || o.Card.Last4 != "4242" {
		t.Fatalf("after the success page: %s %+v", o.Status, o.Card)
	}
	if cart := s.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the placed order's lines are still in the cart")
	}
	confirmations := h.orderNotifications(o.ID, shop.NotificationOrderConfirmation)
	if len(confirmations) != 1 || confirmations[0].Recipient != "jane@example.com" || !strings.Contains(confirmations[0].Body, "Visa ···· 4242") {
		t.Fatalf("confirmation emails: %+v", confirmations)
	}
	link := strings.TrimPrefix(confirmations[0].Link, h.store.URL)
	if page := s.get(link); page.status != http.StatusOK || !strings.Contains(page.body, `id="order-status" data-status="placed"`) {
		t.Errorf("the order link: %d %s", page.status, page.body)
	}
	if res := s.get(link[:len(link)-2] + "AA"); res.status != http.StatusNotFound {
		t.Errorf("an altered order link: %d, want 404", res.status)
	}

	confirm, done := h.orderAction(o, "charge", nil)
	question := "Charge $21.98 to Visa ···· 4242, jane@example.com, order " + o.Number() + "?"
	if !strings.Contains(confirm.body, question) {
		t.Errorf("the confirmation does not ask %q:\n%s", question, confirm.body)
	}
	if done.status != http.StatusSeeOther {
		t.Fatalf("charge: %d %s", done.status, done.body)
	}
	if o = h.orderByID(o.ID); o.Status != shop.Paid {
		t.Fatalf("after the charge: %s", o.Status)
	}
	if n := h.orderNotifications(o.ID, shop.NotificationOrderReceipt); len(n) != 1 || !strings.Contains(n[0].Body, "$21.98") {
		t.Errorf("receipts: %+v", n)
	}
	page := h.admin("/admin/orders/"+strconv.FormatInt(o.ID, 10), "admin", adminPassword)
	for _, want := range []string{`id="order-status" data-status="paid"`, "succeeded", "jane@example.com", "Visa ···· 4242"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the order page lacks %q", want)
		}
	}

	_, refund := h.orderAction(o, "refund", url.Values{"amount": {"5.00"}, "key": {billing.NewIdempotencyKey()}})
	if refund.status != http.StatusSeeOther {
		t.Fatalf("refund: %d %s", refund.status, refund.body)
	}
	if o = h.orderByID(o.ID); o.Status != shop.PartiallyRefunded {
		t.Errorf("after refunding 5.00: %s", o.Status)
	}
	_, refund = h.orderAction(o, "refund", url.Values{"amount": {"16.98"}, "key": {billing.NewIdempotencyKey()}})
	if o = h.orderByID(o.ID); refund.status != http.StatusSeeOther || o.Status != shop.Refunded {
		t.Errorf("after refunding the rest: %d %s", refund.status, o.Status)
	}
	audit, err := h.staff.Audit(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	for _, want := range []string{"charge by admin", "charge.refund by admin"} {
		if !strings.Contains(strings.Join(actions, "; "), want) {
			t.Errorf("the audit log lacks %q: %v", want, actions)
		}
	}
}

func staffActor() staff.Actor { return staff.Actor{Name: "test@example.com", Address: "192.0.2.1"} }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestAnOrderWhoseCardPageExpiresIsCanceled: a customer who leaves the card
// page leaves an order awaiting its card; when Stripe expires the session,
// the order is canceled (no longer counted as waiting), its lines stay in
// the cart, the old form is refused with a message, and a new checkout
// places a new order.
func TestAnOrderWhoseCardPageExpiresIsCanceled(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{WebhookSecret: webhookSecret})
	h := newStore(t, stripe, nil)
	stripe.emu.SetWebhookEndpoint(h.store.URL + "/webhook")
	s := h.newShopper()
	s.add(h.catalog()["T-shirt"], "1")
	key := billing.NewIdempotencyKey()
	form := url.Values{"email": {"gone@example.com"}, "key": {key}}
	res := s.post("/checkout", form)
	session := res.location[strings.LastIndex(res.location, "/")+1:]
	abandoned := h.order(session)

	req, _ := http.NewRequest(http.MethodPost, h.stripeServer.URL+"/v1/checkout/sessions/"+session+"/expire", nil)
	req.Header.Set("Authorization", "Bearer sk_test_harness")
	if expire := h.do(req); expire.status != http.StatusOK {
		t.Fatalf("expire the session on Stripe: %d %s", expire.status, expire.body)
	}
	waitFor(t, "the order canceled by the expiry", func() bool { return h.orderByID(abandoned.ID).Status == shop.Canceled })
	if o := h.orderByID(abandoned.ID); o.CanceledAt.IsZero() || o.PaymentMethodID != "" {
		t.Errorf("the canceled order: %+v", o)
	}
	if page := h.admin("/admin/orders/"+strconv.FormatInt(abandoned.ID, 10), "admin", adminPassword); !strings.Contains(page.body, `data-status="canceled"`) {
		t.Errorf("the admin's order page does not show it canceled")
	}

	if cart := s.get("/cart"); !strings.Contains(cart.body, "T-shirt") {
		t.Errorf("the cart lost the order's lines:\n%s", cart.body)
	}
	before := h.count("orders")
	if again := s.post("/checkout", form); again.status != http.StatusBadRequest || !strings.Contains(again.body, "was canceled") {
		t.Errorf("the old form again: %d, want a 400 saying the order was canceled", again.status)
	}
	if h.count("orders") != before || h.orderByID(abandoned.ID).Status != shop.Canceled {
		t.Errorf("the refused form changed the orders")
	}
	placed := h.order(s.checkout("gone@example.com"))
	if placed.ID == abandoned.ID || placed.Status != shop.AwaitingCard || len(placed.Lines) != 1 {
		t.Errorf("a new checkout: %+v, want a new order awaiting its card", placed)
	}
}

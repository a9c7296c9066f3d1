package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// shopState renders the rows bad input must not change.
func (h *harness) shopState() string {
	h.t.Helper()
	var b strings.Builder
	for _, table := range []string{"products", "carts", "cart_lines", "orders", "order_lines", "order_charges", "charge_attempts", "charge_refunds", "notifications"} {
		var rows string
		err := h.db.Pool().QueryRow(context.Background(),
			"SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM "+table+" t").Scan(&rows)
		if err != nil {
			h.t.Fatal(err)
		}
		b.WriteString(table + ":\n" + rows + "\n")
	}
	return b.String()
}

func TestBadCartInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	products := h.catalog()
	tshirt, mug := products["T-shirt"], products["Mug"]
	euro, err := h.shop.CreateProduct(asStaff(), shop.ProductInput{Name: "Poster", Price: "12.00", Currency: "eur"})
	if err != nil {
		t.Fatal(err)
	}
	archived, err := h.shop.CreateProduct(asStaff(), shop.ProductInput{Name: "Old hat", Price: "9.00", Currency: "usd"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.shop.SetProductStatus(asStaff(), archived.ID, shop.ProductArchived); err != nil {
		t.Fatal(err)
	}
	s := h.newShopper()
	if res := s.add(tshirt, "1"); res.status != http.StatusSeeOther {
		t.Fatalf("add: %d", res.status)
	}
	id := func(p shop.Product) string { return strconv.FormatInt(p.ID, 10) }
	for _, c := range []struct {
		name, path string
		form       url.Values
		message    string
	}{
		{"quantity 0", "/cart", url.Values{"product": {id(mug)}, "quantity": {"0"}}, "at least 1"},
		{"negative quantity", "/cart", url.Values{"product": {id(mug)}, "quantity": {"-3"}}, "at least 1"},
		{"absurd quantity", "/cart", url.Values{"product": {id(mug)}, "quantity": {"1000000"}}, "at most 99"},
		{"over the most with what is in the cart", "/cart", url.Values{"product": {id(tshirt)}, "quantity": {"99"}}, "at most 99"},
		{"not a number", "/cart", url.Values{"product": {id(mug)}, "quantity": {"two"}}, "whole number"},
		{"no quantity", "/cart", url.Values{"product": {id(mug)}}, "Enter a quantity"},
		{"unknown product", "/cart", url.Values{"product": {"999999"}, "quantity": {"1"}}, "not in the store"},
		{"malformed product", "/cart", url.Values{"product": {"tshirt"}, "quantity": {"1"}}, "Choose a product"},
		{"archived product", "/cart", url.Values{"product": {id(archived)}, "quantity": {"1"}}, "no longer for sale"},
		{"another currency", "/cart", url.Values{"product": {id(euro)}, "quantity": {"1"}}, "one currency"},
		{"update to 0", "/cart/update", url.Values{"product": {id(tshirt)}, "quantity": {"0"}}, "at least 1"},
		{"update to absurd", "/cart/update", url.Values{"product": {id(tshirt)}, "quantity": {"500"}}, "at most 99"},
		{"update a product not in the cart", "/cart/update", url.Values{"product": {id(mug)}, "quantity": {"2"}}, "not in your cart"},
		{"checkout with a bad email", "/checkout", url.Values{"email": {"not an email"}, "key": {billing.NewIdempotencyKey()}}, "valid email"},
		{"checkout with an expired form", "/checkout", url.Values{"email": {"a@example.com"}, "key": {"short"}}, "expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := h.shopState()
			res := s.post(c.path, c.form)
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, c.message) {
				t.Errorf("%d, want 400 saying %q:\n%s", res.status, c.message, res.body)
			}
			if after := h.shopState(); after != before {
				t.Errorf("bad input changed the store:\nbefore %s\nafter %s", before, after)
			}
		})
	}

	// A product archived after it went into the cart cannot be checked out.
	if _, err := h.shop.SetProductStatus(asStaff(), tshirt.ID, shop.ProductArchived); err != nil {
		t.Fatal(err)
	}
	before := h.shopState()
	res := s.post("/checkout", url.Values{"email": {"a@example.com"}, "key": {billing.NewIdempotencyKey()}})
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "T-shirt is no longer for sale") {
		t.Errorf("checkout of an archived product: %d %s", res.status, res.body)
	}
	if h.shopState() != before {
		t.Error("a refused checkout changed the store")
	}
	if empty := h.newShopper().post("/checkout", url.Values{"email": {"a@example.com"}, "key": {billing.NewIdempotencyKey()}}); empty.status != http.StatusBadRequest || !strings.Contains(empty.body, "empty") {
		t.Errorf("checkout of an empty cart: %d", empty.status)
	}
}

func TestMalformedPriceChangesNothing(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ name, price, currency, message string }{
		{"too many decimals", "10.999", "usd", "at most 2 decimal places"},
		{"letters", "ten", "usd", "only digits"},
		{"negative", "-5", "usd", "only digits"},
		{"zero", "0", "usd", "greater than zero"},
		{"empty", "", "usd", "Enter an amount"},
		{"exponent", "1e3", "usd", "only digits"},
		{"decimals in yen", "500.5", "jpy", "no decimal places"},
		{"too large", "1000000", "usd", "maximum"},
		{"unknown currency", "10", "xyz", "supported currency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := h.shopState()
			res := h.adminPost("/admin/products", url.Values{"name": {"Tote bag"}, "price": {c.price}, "currency": {c.currency}})
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, c.message) || !strings.Contains(res.body, `value="Tote bag"`) {
				t.Errorf("%d, want 400 saying %q with the form kept:\n%s", res.status, c.message, res.body)
			}
			if h.shopState() != before {
				t.Error("a malformed price changed the catalog")
			}
		})
	}
	res := h.adminPost("/admin/products", url.Values{"name": {"Tote bag"}, "description": {"Canvas."}, "price": {"1250"}, "currency": {"jpy"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("a good product: %d %s", res.status, res.body)
	}
	if list := h.admin("/admin/products", "admin", adminPassword); !strings.Contains(list.body, "Tote bag") || !strings.Contains(list.body, "¥1,250") {
		t.Errorf("the catalog does not show the new product:\n%s", list.body)
	}
}

func TestAnOrderIsChargedOnce(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["T-shirt"], "2", "ann@example.com", "4242424242424242")

	// A charge whose key is stored and whose answer has not come: in flight.
	if _, err := h.db.BeginCharge(context.Background(), o.ID, billing.NewIdempotencyKey(), func(shop.Order) error { return nil }); err != nil {
		t.Fatal(err)
	}
	before := h.shopState()
	if _, done := h.orderAction(o, "charge", nil); done.status != http.StatusBadRequest {
		t.Errorf("charge while another is in flight: %d, want 400", done.status)
	}
	confirm := h.adminPost("/admin/orders/"+strconv.FormatInt(o.ID, 10)+"/charge", url.Values{"confirm": {"yes"}})
	if confirm.status != http.StatusBadRequest || !strings.Contains(confirm.body, "being charged already") {
		t.Errorf("confirmed charge while another is in flight: %d %s", confirm.status, confirm.body)
	}
	if h.shopState() != before || h.stripeCount("/v1/payment_intents") != 0 {
		t.Error("a refused charge changed something")
	}

	// Retry sends the stored key: the order is charged, once.
	if res := h.adminPost("/admin/orders/"+strconv.FormatInt(o.ID, 10)+"/retry", nil); res.status != http.StatusSeeOther {
		t.Fatalf("retry: %d %s", res.status, res.body)
	}
	if got := h.orderByID(o.ID); got.Status != shop.Paid {
		t.Fatalf("after the retry: %s", got.Status)
	}
	before = h.shopState()
	confirm = h.adminPost("/admin/orders/"+strconv.FormatInt(o.ID, 10)+"/charge", url.Values{"confirm": {"yes"}})
	if confirm.status != http.StatusBadRequest || !strings.Contains(confirm.body, "paid already") {
		t.Errorf("charge of a paid order: %d %s", confirm.status, confirm.body)
	}
	if h.shopState() != before || h.stripeCount("/v1/payment_intents") != 1 {
		t.Errorf("a paid order was charged again: %d PaymentIntents", h.stripeCount("/v1/payment_intents"))
	}
	_, err := h.shop.ChargeOrder(context.Background(), staffActor(), o.ID)
	if !errorsIs(err, shop.ErrOrderPaid) {
		t.Errorf("ChargeOrder of a paid order: %v, want ErrOrderPaid", err)
	}
}

func TestRefundingMoreThanPaidChangesNothing(t *testing.T) {
	h := newHarness(t)
	o := h.placeOrder(h.catalog()["Mug"], "1", "bo@example.com", "4242424242424242")
	if _, done := h.orderAction(o, "charge", nil); done.status != http.StatusSeeOther {
		t.Fatalf("charge: %d", done.status)
	}
	before := h.shopState()
	for _, c := range []struct{ name, amount, message string }{
		{"more than paid", "14.51", "At most $14.50"},
		{"malformed", "1,50", "only digits"},
		{"zero", "0.00", "greater than zero"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := h.adminAsk("/admin/orders/"+strconv.FormatInt(o.ID, 10)+"/refund", url.Values{"amount": {c.amount}})
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, c.message) {
				t.Errorf("%d, want 400 saying %q", res.status, c.message)
			}
			// Confirmed too: the reservation refuses it as well.
			res = h.adminPost("/admin/orders/"+strconv.FormatInt(o.ID, 10)+"/refund", url.Values{"amount": {c.amount}, "confirm": {"yes"}, "key": {billing.NewIdempotencyKey()}})
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, c.message) {
				t.Errorf("confirmed: %d, want 400 saying %q", res.status, c.message)
			}
		})
	}
	if h.shopState() != before {
		t.Error("a refused refund changed something")
	}
	if _, done := h.orderAction(o, "refund", url.Values{"amount": {"10.00"}, "key": {billing.NewIdempotencyKey()}}); done.status != http.StatusSeeOther {
		t.Fatalf("refund 10.00: %d", done.status)
	}
	res := h.adminPost("/admin/orders/"+strconv.FormatInt(o.ID, 10)+"/refund", url.Values{"amount": {"5.00"}, "confirm": {"yes"}, "key": {billing.NewIdempotencyKey()}})
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "At most $4.50") {
		t.Errorf("a second refund past what is left: %d %s", res.status, res.body)
	}
}

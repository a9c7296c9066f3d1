package shop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/billing"
)

func TestNextStatus(t *testing.T) {
	card := &billing.PaymentMethod{ID: "pm_1", CustomerID: 7}
	attempt := func(status string, refunded int64) *billing.ChargeAttempt {
		return &billing.ChargeAttempt{Status: status, Money: billing.Money{Amount: 2198, Currency: "usd"}, Refunded: refunded}
	}
	for _, c := range []struct {
		name    string
		status  OrderStatus
		card    *billing.PaymentMethod
		attempt *billing.ChargeAttempt
		want    OrderStatus
	}{
		{"card not saved yet", AwaitingCard, nil, nil, AwaitingCard},
		{"card saved", AwaitingCard, card, nil, Placed},
		{"placed stays placed", Placed, nil, nil, Placed},
		{"charge in flight, no attempt yet", Charging, nil, nil, Charging},
		{"charge processing", Charging, nil, attempt(billing.ChargeProcessing, 0), Charging},
		{"charge succeeded", Charging, nil, attempt(billing.ChargeSucceeded, 0), Paid},
		{"card declined", Charging, nil, attempt(billing.ChargeDeclined, 0), PaymentFailed},
		{"authentication required", Charging, nil, attempt(billing.ChargeAuthenticationRequired, 0), PaymentFailed},
		{"Stripe refused the request", Charging, nil, attempt(billing.ChargeFailed, 0), PaymentFailed},
		{"paid through the recovery link", PaymentFailed, nil, attempt(billing.ChargeRecovered, 0), Paid},
		{"paid while being canceled", Canceled, nil, attempt(billing.ChargeRecovered, 0), Paid},
		{"canceled stays canceled", Canceled, card, nil, Canceled},
		{"partly refunded", Paid, nil, attempt(billing.ChargeSucceeded, 500), PartiallyRefunded},
		{"refunded in full", PartiallyRefunded, nil, attempt(billing.ChargeSucceeded, 2198), Refunded},
		{"placed ignores an old paid attempt", Placed, nil, attempt(billing.ChargeSucceeded, 0), Placed},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nextStatus(OrderFacts{Order: Order{Status: c.status}, SavedCard: c.card, Attempt: c.attempt})
			if got != c.want {
				t.Errorf("nextStatus = %s, want %s", got, c.want)
			}
		})
	}
	// The card page expired unused: an order still awaiting its card is
	// given up; an order placed meanwhile is not.
	for status, want := range map[OrderStatus]OrderStatus{AwaitingCard: Canceled, Placed: Placed, Paid: Paid} {
		if got := nextStatus(OrderFacts{Order: Order{Status: status}, SessionExpired: true}); got != want {
			t.Errorf("%s, its session expired: nextStatus = %s, want %s", status, got, want)
		}
	}
}

func TestDecideSendsOneEmailPerTransition(t *testing.T) {
	s := NewService(nil, nil, Options{BaseURL: "https://shop.example", LinkKey: []byte("0123456789abcdef0123456789abcdef")})
	o := Order{ID: 1042, Email: "jane@example.com", Status: AwaitingCard, Total: billing.Money{Amount: 2198, Currency: "usd"},
		Lines: []OrderLine{{Name: "T-shirt", UnitAmount: 1099, Quantity: 2}}}
	card := &billing.PaymentMethod{Brand: "visa", Last4: "4242", CustomerID: 7}
	placed := s.decide(OrderFacts{Order: o, SavedCard: card})
	if placed.Status != Placed || len(placed.Notify) != 1 || placed.Notify[0].Kind != NotificationOrderConfirmation {
		t.Fatalf("placing: %+v", placed)
	}
	n := placed.Notify[0]
	for _, want := range []string{"#1042", "2 × T-shirt", "$21.98", "Visa ···· 4242", "https://shop.example/orders/"} {
		if !strings.Contains(n.Body, want) {
			t.Errorf("the confirmation lacks %q:\n%s", want, n.Body)
		}
	}
	if n.CustomerID != 7 || n.OrderID != 1042 || n.Recipient != "jane@example.com" {
		t.Errorf("confirmation addressed to %+v", n)
	}
	o.Status, o.CustomerID, o.Card = Charging, 7, card
	paid := s.decide(OrderFacts{Order: o, Attempt: &billing.ChargeAttempt{Status: billing.ChargeSucceeded, Money: o.Total}})
	if paid.Status != Paid || len(paid.Notify) != 1 || paid.Notify[0].Kind != NotificationOrderReceipt {
		t.Fatalf("paying: %+v", paid)
	}
	o.Status = Paid
	if again := s.decide(OrderFacts{Order: o, Attempt: &billing.ChargeAttempt{Status: billing.ChargeSucceeded, Money: o.Total}}); len(again.Notify) != 0 {
		t.Errorf("settling a paid order again sends %d emails", len(again.Notify))
	}
}

func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]string{
		"1": "", " 99 ": "", "0": "at least 1", "-1": "at least 1", "100": "at most 99",
		"99999999999999999999": "at most 99", "": "Enter a quantity", "2.5": "whole number", "two": "whole number", "+3": "whole number",
	} {
		_, err := parseQuantity(in)
		var invalid *billing.InvalidError
		switch {
		case want == "" && err != nil:
			t.Errorf("parseQuantity(%q) = %v", in, err)
		case want != "" && (!errors.As(err, &invalid) || !strings.Contains(invalid.Message, want)):
			t.Errorf("parseQuantity(%q) = %v, want a message with %q", in, err, want)
		}
	}
}

func TestOrderLinks(t *testing.T) {
	s := NewService(nil, nil, Options{BaseURL: "https://shop.example", LinkKey: []byte("0123456789abcdef0123456789abcdef")})
	link := s.OrderLink(1042)
	token := strings.TrimPrefix(link, "https://shop.example/orders/")
	if id, ok := s.verifyOrderToken(token); !ok || id != 1042 {
		t.Fatalf("verify(%q) = %d, %v", token, id, ok)
	}
	other := NewService(nil, nil, Options{LinkKey: []byte("another key, another shop, 32 by")})
	for _, bad := range []string{"", "x", token + "A", strings.ToUpper(token), s.orderToken(1043)[:12] + token[12:]} {
		if _, ok := s.verifyOrderToken(bad); ok {
			t.Errorf("verify(%q) accepted", bad)
		}
	}
	if _, ok := other.verifyOrderToken(token); ok {
		t.Error("a link signed with another key is accepted")
	}
	// Links already emailed keep opening: the token is spelled as it always
	// was, base64url(id) "." base64url(HMAC-SHA256(key, "order|" id)[:16]).
	id := binary.BigEndian.AppendUint64(nil, 1042)
	mac := hmac.New(sha256.New, []byte("0123456789abcdef0123456789abcdef"))
	mac.Write([]byte("order|"))
	mac.Write(id)
	if want := base64.RawURLEncoding.EncodeToString(id) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16]); token != want {
		t.Errorf("order token %q, want %q", token, want)
	}
}

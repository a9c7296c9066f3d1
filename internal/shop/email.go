package shop

import (
	"fmt"
	"strings"

	"github.com/storefront/storefront/internal/billing"
)

// Kinds of order email in the outbox.
const (
	NotificationOrderConfirmation = "order_confirmation"
	NotificationOrderReceipt      = "order_receipt"
)

// CardName is how a card is named to people: "Visa ···· 4242".
func CardName(pm billing.PaymentMethod) string {
	return BrandName(pm.Brand, pm.Type) + " ···· " + pm.Last4
}

// BrandName is how a card brand is named to people; a payment method of
// no known brand is named by its type.
func BrandName(brand, pmType string) string {
	if name, ok := brandNames[brand]; ok {
		return name
	}
	if brand != "" {
		return brand
	}
	return pmType
}

var brandNames = map[string]string{
	"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
	"jcb": "JCB", "diners": "Diners Club", "unionpay": "UnionPay", "cartes_bancaires": "Cartes Bancaires",
}

// orderLines writes an order's lines and total for an email.
func orderLines(o Order) string {
	var b strings.Builder
	for _, l := range o.Lines {
		fmt.Fprintf(&b, "  %d × %s  %s\n", l.Quantity, l.Name, o.LineAmount(l).Display())
	}
	fmt.Fprintf(&b, "  Total  %s\n", o.Total.Display())
	return b.String()
}

// confirmationEmail tells the customer the order is placed and which card
// will be charged when it ships.
func (s *Service) confirmationEmail(o Order, card billing.PaymentMethod) billing.Notification {
	link := s.OrderLink(o.ID)
	return billing.Notification{
		CustomerID: card.CustomerID,
		OrderID:    o.ID,
		Kind:       NotificationOrderConfirmation,
		Recipient:  o.Email,
		Subject:    "Your order " + o.Number() + " is placed",
		Body: "Hello,\n\nThank you for your order " + o.Number() + ":\n\n" + orderLines(o) + "\n" +
			"Nothing has been charged yet. We will charge " + o.Total.Display() + " to your " + CardName(card) +
			" when your order ships.\n\nYou can see your order at any time here:\n\n" + link + "\n",
		Link: link,
	}
}

// receiptEmail tells the customer the order is paid.
func (s *Service) receiptEmail(o Order, a *billing.ChargeAttempt) billing.Notification {
	link := s.OrderLink(o.ID)
	paid := "your card"
	if o.Card != nil && (a == nil || a.Status == billing.ChargeSucceeded) {
		paid = "your " + CardName(*o.Card)
	}
	return billing.Notification{
		CustomerID: o.CustomerID,
		OrderID:    o.ID,
		Kind:       NotificationOrderReceipt,
		Recipient:  o.Email,
		Subject:    "Receipt for your order " + o.Number(),
		Body: "Hello,\n\nWe received " + o.Total.Display() + " from " + paid + " for your order " + o.Number() + ":\n\n" +
			orderLines(o) + "\nYour order is on its way. Its page:\n\n" + link + "\n",
		Link: link,
	}
}

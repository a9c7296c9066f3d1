package shop

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/storefront/storefront/internal/billing"
)

var checkoutKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,255}$`)

// NewCheckoutKey returns the key of one rendering of the cart page: a
// double-submitted checkout makes one order.
func NewCheckoutKey() string { return billing.NewIdempotencyKey() }

// metadataOrder is the Checkout Session metadata key naming the order.
const metadataOrder = "order_id"

// Checkout turns the cart into an order awaiting its card, and returns the
// URL of the setup-mode Checkout Session that saves the card (a session
// whose metadata names the order). Nothing is charged: the order is charged
// when it ships. A resubmitted form (same key) goes to the same order's
// session; a cart with a product no longer for sale, nothing in it, or a
// total Stripe could not charge is refused with nothing changed.
func (s *Service) Checkout(ctx context.Context, cartToken, rawEmail, key string) (string, error) {
	email, err := billing.NormalizeEmail(rawEmail)
	if err != nil {
		return "", err
	}
	if !checkoutKeyPattern.MatchString(key) {
		return "", billing.Invalid("form", "The form has expired; open your cart again.")
	}
	cart, err := s.Cart(ctx, cartToken)
	if err != nil {
		return "", err
	}
	order, err := s.newOrder(ctx, cart, email, key)
	if err != nil {
		return "", err
	}
	if order.Email != email {
		return "", billing.Invalid("form", "This form was already used for another order; open your cart again.")
	}
	if order.Status == Canceled {
		return "", billing.Invalid("form", "Order %s was canceled; open your cart again to place a new order.", order.Number())
	}
	if order.Status != AwaitingCard {
		return s.OrderLink(order.ID), nil // placed already: its page says so
	}
	if order.SessionURL != "" {
		return order.SessionURL, nil
	}
	session, err := s.billing.StartSetupWith(ctx, email, billing.SetupOptions{
		Currency: order.Total.Currency,
		Metadata: map[string]string{metadataOrder: strconv.FormatInt(order.ID, 10)},
	})
	if err != nil {
		return "", fmt.Errorf("checkout of order %d: %w", order.ID, err)
	}
	order, err = s.store.SetOrderSession(ctx, order.ID, session.ID)
	if err != nil {
		return "", fmt.Errorf("checkout of order %d: %w", order.ID, err)
	}
	if order.SessionURL == "" {
		return "", fmt.Errorf("checkout of order %d: session %s has no page", order.ID, order.SetupSessionID)
	}
	return order.SessionURL, nil
}

// newOrder makes the order of a cart, checking that everything in it can
// still be sold and that Stripe can charge its total.
func (s *Service) newOrder(ctx context.Context, cart Cart, email, key string) (Order, error) {
	if len(cart.Lines) == 0 {
		return Order{}, billing.Invalid("cart", "Your cart is empty.")
	}
	o := Order{Email: email, Status: AwaitingCard, CheckoutKey: key, CartID: cart.ID, Total: cart.Total()}
	for _, l := range cart.Lines {
		if err := sellable(l.Product); err != nil {
			return Order{}, billing.Invalid("cart", "%s is no longer for sale; remove it from your cart to check out.", l.Product.Name)
		}
		if l.Product.Price.Currency != o.Total.Currency {
			return Order{}, billing.Invalid("cart", "Your cart mixes currencies; one order is paid in one currency.")
		}
		o.Lines = append(o.Lines, OrderLine{ProductID: l.Product.ID, Name: l.Product.Name, UnitAmount: l.Product.Price.Amount, Quantity: l.Quantity})
	}
	if _, err := billing.ParseMoney(o.Total.Decimal(), o.Total.Currency); err != nil {
		var invalid *billing.InvalidError
		if errors.As(err, &invalid) {
			return Order{}, billing.Invalid("cart", "Your order comes to %s. %s", o.Total.Display(), invalid.Message)
		}
		return Order{}, err
	}
	// A second submit of the form finds the order the first one made.
	order, _, err := s.store.CreateOrder(ctx, o)
	if err != nil {
		return Order{}, fmt.Errorf("checkout: %w", err)
	}
	return order, nil
}

// CheckoutResult is what the success page shows of an order's session.
type CheckoutResult struct {
	Order Order
	// Pending is set while Stripe has not finished saving the card.
	Pending       bool
	SessionStatus string
}

// FinishCheckout records the card an order's setup session saved, as the
// plain save-card flow does, and places the order. The webhook takes the
// same path (Follow); whichever comes first does the work. ok is false for
// a session that is not an order's.
func (s *Service) FinishCheckout(ctx context.Context, sessionID string) (result CheckoutResult, ok bool, err error) {
	if !billing.ValidSessionID(sessionID) {
		return CheckoutResult{}, false, nil
	}
	order, err := s.store.OrderOfSession(ctx, sessionID)
	if errors.Is(err, billing.ErrNotFound) {
		return CheckoutResult{}, false, nil
	}
	if err != nil {
		return CheckoutResult{}, true, fmt.Errorf("finish checkout %s: %w", sessionID, err)
	}
	setup, err := s.billing.FinalizeSetup(ctx, sessionID)
	if err != nil {
		return CheckoutResult{}, true, fmt.Errorf("finish checkout of order %d: %w", order.ID, err)
	}
	if setup.Pending {
		return CheckoutResult{Order: order, Pending: true, SessionStatus: setup.SessionStatus}, true, nil
	}
	order, err = s.Settle(ctx, order.ID)
	if err != nil {
		return CheckoutResult{}, true, err
	}
	return CheckoutResult{Order: order}, true, nil
}

// OrderByToken returns the order a customer's signed link names.
func (s *Service) OrderByToken(ctx context.Context, token string) (Order, error) {
	id, ok := s.verifyOrderToken(token)
	if !ok {
		return Order{}, billing.ErrNotFound
	}
	return s.Settle(ctx, id)
}

// Settle brings an order's status up to date with its session, charge and
// refunds, and writes the emails the change sends, in one transaction.
// Every path that may change those facts calls it (the return pages, the
// webhook, order actions, pages that show the order); running it again
// changes nothing.
func (s *Service) Settle(ctx context.Context, orderID int64) (Order, error) {
	o, err := s.store.SettleOrder(ctx, orderID, s.decide)
	if err != nil {
		return Order{}, fmt.Errorf("settle order %d: %w", orderID, err)
	}
	return o, nil
}

// decide is the settlement of an order's facts: its next status, and the
// confirmation or receipt that the change sends.
func (s *Service) decide(f OrderFacts) Settlement {
	o := f.Order
	next := nextStatus(f)
	st := Settlement{Status: next}
	switch {
	case next == o.Status:
	case next == Placed && f.SavedCard != nil:
		st.Notify = append(st.Notify, s.confirmationEmail(o, *f.SavedCard))
	case next.paidFamily() && !o.Status.paidFamily() && o.CustomerID != 0:
		st.Notify = append(st.Notify, s.receiptEmail(o, f.Attempt))
	}
	return st
}

// nextStatus is where an order stands given its facts. Money received
// decides over everything: an order whose charge is paid is paid (refunded
// as far as its refunds go), even one canceled while its customer was
// paying the recovery link.
func nextStatus(f OrderFacts) OrderStatus {
	o, a := f.Order, f.Attempt
	if a != nil && a.Paid() && (o.Status == Charging || o.Status == PaymentFailed || o.Status == Canceled || o.Status.paidFamily()) {
		switch {
		case a.Refunded >= a.Money.Amount:
			return Refunded
		case a.Refunded > 0:
			return PartiallyRefunded
		}
		return Paid
	}
	switch o.Status {
	case AwaitingCard:
		if f.SavedCard != nil {
			return Placed
		}
		if f.SessionExpired {
			return Canceled // its lines are still in the cart, for a new order
		}
	case Charging:
		if a != nil && (a.Failed() || a.Status == billing.ChargeFailed) {
			return PaymentFailed
		}
	}
	return o.Status
}

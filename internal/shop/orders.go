package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

// OrderPageSize is how many orders one page of the admin's list shows.
const OrderPageSize = 50

// ParseOrderQuery validates the admin list's filter, search and cursor.
func ParseOrderQuery(status, search, before string) (OrderQuery, error) {
	q := OrderQuery{Status: OrderStatus(status), Search: strings.ToLower(strings.TrimSpace(search)), Limit: OrderPageSize}
	if q.Status != "" && !validStatus(q.Status) {
		return q, billing.Invalid("status", "Unknown status %q.", status)
	}
	if len(q.Search) > 254 {
		return q, billing.Invalid("q", "Search for an order number or the start of an email.")
	}
	if before != "" {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n <= 0 {
			return q, billing.Invalid("before", "The page link is malformed; start again from the first page.")
		}
		q.Before = n
	}
	return q, nil
}

func validStatus(s OrderStatus) bool {
	for _, v := range OrderStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// ListOrders returns a page of orders, newest first, and the totals per status.
func (s *Service) ListOrders(ctx context.Context, q OrderQuery) ([]Order, []StatusTotal, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = OrderPageSize
	}
	list, err := s.store.ListOrders(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("list orders: %w", err)
	}
	totals, err := s.store.OrderTotals(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list orders: %w", err)
	}
	return list, totals, nil
}

// OrderDetail is everything the admin's order page shows.
type OrderDetail struct {
	Order Order
	// Attempts are the order's charges, newest first, each with its refunds.
	Attempts []AttemptDetail
	// Paid is the attempt that paid the order, if one did.
	Paid *billing.ChargeAttempt
}

// AttemptDetail is one charge of an order and its refunds.
type AttemptDetail struct {
	Attempt billing.ChargeAttempt
	Refunds []billing.ChargeRefund
}

// OrderDetail settles an order and gathers its charges and refunds.
func (s *Service) OrderDetail(ctx context.Context, id int64) (OrderDetail, error) {
	o, err := s.Settle(ctx, id)
	if err != nil {
		return OrderDetail{}, err
	}
	d := OrderDetail{Order: o}
	ids, err := s.store.OrderAttempts(ctx, id)
	if err != nil {
		return OrderDetail{}, fmt.Errorf("order %d: %w", id, err)
	}
	for _, attemptID := range ids {
		a, err := s.billing.ChargeAttempt(ctx, attemptID)
		if err != nil {
			return OrderDetail{}, fmt.Errorf("order %d: %w", id, err)
		}
		refunds, err := s.billing.ChargeRefunds(ctx, attemptID)
		if err != nil {
			return OrderDetail{}, fmt.Errorf("order %d: %w", id, err)
		}
		d.Attempts = append(d.Attempts, AttemptDetail{Attempt: a, Refunds: refunds})
		if a.Paid() && d.Paid == nil {
			d.Paid = &d.Attempts[len(d.Attempts)-1].Attempt
		}
	}
	return d, nil
}

// refuseAnonymous stops an order action nobody is named for: every money
// action is attributed, and a batch job passes the person who started it.
func refuseAnonymous(actor staff.Actor) error {
	if actor.Name == "" {
		return staff.ErrNoActor
	}
	return nil
}

// ChargeOrder charges a placed (or failed) order's total to its card,
// off-session, once. The order is marked charging with the charge's
// idempotency key in one transaction before anything reaches Stripe, so a
// second call while the first is in flight is refused (ErrChargeInFlight),
// as is a call for an order paid already (ErrOrderPaid); a crash leaves an
// order whose key Retry sends again. The charge carries the order's lines,
// which its recovery link shows if the card fails. It is the one way an
// order is charged: the admin's button, and a batch of orders, call it.
func (s *Service) ChargeOrder(ctx context.Context, actor staff.Actor, orderID int64) (Order, error) {
	if err := refuseAnonymous(actor); err != nil {
		return Order{}, err
	}
	ctx = staff.WithActor(ctx, actor)
	key := billing.NewIdempotencyKey()
	order, err := s.store.BeginCharge(ctx, orderID, key, chargeable)
	if err != nil {
		return order, err
	}
	return s.sendCharge(ctx, order)
}

// chargeable refuses, with the sentinel kept for callers that branch on
// it, an order that cannot be charged now.
func chargeable(o Order) error {
	switch {
	case o.Status == Charging:
		return fmt.Errorf("%w: %w", ErrChargeInFlight, billing.Invalid("order", "Order %s is being charged already; its outcome is shown on its page. It was not charged again.", o.Number()))
	case o.Status.paidFamily():
		return fmt.Errorf("%w: %w", ErrOrderPaid, billing.Invalid("order", "Order %s is paid already; it was not charged again.", o.Number()))
	case !o.Status.Chargeable():
		return billing.Invalid("order", "Order %s is %s and cannot be charged.", o.Number(), o.Status)
	case o.Card == nil || o.Card.Status != billing.PaymentMethodActive:
		return billing.Invalid("order", "The card of order %s is no longer attached to its customer and cannot be charged.", o.Number())
	}
	return nil
}

// sendCharge charges an order marked charging with its stored key: a new
// attempt, or the attempt that key made already.
func (s *Service) sendCharge(ctx context.Context, order Order) (Order, error) {
	_, err := s.billing.Charge(ctx, billing.ChargeRequest{
		PaymentMethodID: order.PaymentMethodID,
		Amount:          order.Total.Decimal(),
		Currency:        order.Total.Currency,
		IdempotencyKey:  order.ChargeKey,
		Description:     "Order " + order.Number(),
		Items:           order.items(),
	})
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		// Refused before any attempt was made (a detached card): the order is as it was.
		if aerr := s.store.AbortCharge(context.WithoutCancel(ctx), order.ID, order.ChargeKey); aerr != nil {
			return order, fmt.Errorf("charge order %d: %w (and putting it back: %v)", order.ID, err, aerr)
		}
		return order, err
	}
	settled, serr := s.Settle(context.WithoutCancel(ctx), order.ID)
	if err != nil {
		// The outcome is unknown: the order stays charging, for Retry.
		return settled, fmt.Errorf("charge order %d: %w", order.ID, err)
	}
	return settled, serr
}

// RetryOrderCharge sends the charge of an order left charging (Stripe's
// answer was lost, or the process stopped before sending) again with its
// stored key, so Stripe never charges it twice. An order not charging is
// only settled.
func (s *Service) RetryOrderCharge(ctx context.Context, actor staff.Actor, orderID int64) (Order, error) {
	if err := refuseAnonymous(actor); err != nil {
		return Order{}, err
	}
	ctx = staff.WithActor(ctx, actor)
	order, err := s.Settle(ctx, orderID)
	if err != nil || order.Status != Charging {
		return order, err
	}
	d, err := s.OrderDetail(ctx, orderID)
	if err != nil {
		return order, err
	}
	for _, ad := range d.Attempts {
		if ad.Attempt.IdempotencyKey == order.ChargeKey {
			if _, err := s.billing.RetryCharge(ctx, ad.Attempt.ID); err != nil {
				return order, fmt.Errorf("retry charge of order %d: %w", orderID, err)
			}
			return s.Settle(ctx, orderID)
		}
	}
	return s.sendCharge(ctx, order) // the key was stored, the attempt never made
}

// CancelOrder cancels an order not paid: awaiting its card, placed, or
// failed. For a failed one, its recovery link is withdrawn first; if the
// customer paid meanwhile, the order is paid and not canceled.
func (s *Service) CancelOrder(ctx context.Context, actor staff.Actor, orderID int64) (Order, error) {
	if err := refuseAnonymous(actor); err != nil {
		return Order{}, err
	}
	ctx = staff.WithActor(ctx, actor)
	d, err := s.OrderDetail(ctx, orderID)
	if err != nil {
		return Order{}, err
	}
	order := d.Order
	if !order.Status.Cancelable() {
		return order, billing.Invalid("order", "Order %s is %s and cannot be canceled.%s", order.Number(), order.Status, refundHint(order.Status))
	}
	if err := s.audit(ctx, ActionOrderCancel, "order "+strconv.FormatInt(order.ID, 10), order.Total, order.Email); err != nil {
		return order, err
	}
	if order.Status == PaymentFailed && len(d.Attempts) > 0 {
		_, err := s.billing.WithdrawCharge(ctx, d.Attempts[0].Attempt.ID)
		if errors.Is(err, billing.ErrAlreadyPaid) {
			order, _ = s.Settle(ctx, orderID)
			return order, billing.Invalid("order", "The customer has just paid order %s through the payment link, so it was not canceled. Refund it instead if it should not ship.", order.Number())
		}
		if err != nil {
			return order, fmt.Errorf("cancel order %d: %w", orderID, err)
		}
	}
	canceled, err := s.store.CancelOrder(ctx, orderID)
	if err != nil {
		return order, fmt.Errorf("cancel order %d: %w", orderID, err)
	}
	if canceled.Status != Canceled {
		return canceled, billing.Invalid("order", "Order %s changed to %s meanwhile and was not canceled.", canceled.Number(), canceled.Status)
	}
	return canceled, nil
}

func refundHint(st OrderStatus) string {
	if st.Refundable() {
		return " Refund it instead."
	}
	return ""
}

// RefundOrder refunds a paid order, in full (amount empty) or in part,
// never more than is left of what was paid; several partial refunds are
// fine. The refund is audited, under actor, before it reaches Stripe.
func (s *Service) RefundOrder(ctx context.Context, actor staff.Actor, orderID int64, amount, key string) (Order, billing.ChargeRefund, error) {
	if err := refuseAnonymous(actor); err != nil {
		return Order{}, billing.ChargeRefund{}, err
	}
	ctx = staff.WithActor(ctx, actor)
	d, err := s.OrderDetail(ctx, orderID)
	if err != nil {
		return Order{}, billing.ChargeRefund{}, err
	}
	if d.Paid == nil || !d.Order.Status.paidFamily() {
		return d.Order, billing.ChargeRefund{}, billing.Invalid("amount", "Order %s is %s: only a paid order can be refunded.", d.Order.Number(), d.Order.Status)
	}
	refund, err := s.billing.RefundCharge(ctx, billing.RefundRequest{AttemptID: d.Paid.ID, Amount: amount, IdempotencyKey: key})
	order, serr := s.Settle(context.WithoutCancel(ctx), orderID)
	if err != nil {
		return order, refund, err
	}
	return order, refund, serr
}

// Follow brings the orders an applied webhook event concerns up to date:
// an order's setup session completed, its charge settled or paid through
// the recovery link, a refund made here or on Stripe. It reads nothing from
// Stripe: billing has recorded the event's effect, and the order follows
// from what is stored. The payload only routes (which session, which
// PaymentIntent); it is never trusted for state.
func (s *Service) Follow(ctx context.Context, e billing.Event) error {
	if !slices.Contains(billing.HandledEventTypes(), e.Type) {
		return nil // billing stored it and changed nothing (charge.succeeded, say): no order can follow
	}
	refs := []string{e.ObjectID}
	var body struct {
		Data struct {
			Object struct {
				PaymentIntent string `json:"payment_intent"`
			} `json:"object"`
		} `json:"data"`
	}
	if json.Unmarshal(e.Payload, &body) == nil && body.Data.Object.PaymentIntent != "" {
		refs = append(refs, body.Data.Object.PaymentIntent)
	}
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		ids, err := s.store.OrdersOf(ctx, ref)
		if err != nil {
			return fmt.Errorf("follow event %s: %w", e.ID, err)
		}
		for _, id := range ids {
			if _, err := s.Settle(ctx, id); err != nil {
				return fmt.Errorf("follow event %s: %w", e.ID, err)
			}
		}
	}
	return nil
}

// SettleAttempt settles the order a charge attempt was for, if any: after
// a recovery payment's return page, or a retry from the attempt's page.
func (s *Service) SettleAttempt(ctx context.Context, attemptID int64) error {
	id, err := s.store.OrderOfAttempt(ctx, attemptID)
	if errors.Is(err, billing.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("order of attempt %d: %w", attemptID, err)
	}
	_, err = s.Settle(ctx, id)
	return err
}

// SettleAll settles every order whose status may lag (after `storefront
// sync` applied missed events), and returns how many it looked at.
func (s *Service) SettleAll(ctx context.Context) (int, error) {
	ids, err := s.store.OrdersToSettle(ctx, 10000)
	if err != nil {
		return 0, fmt.Errorf("settle orders: %w", err)
	}
	for _, id := range ids {
		if _, err := s.Settle(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// RefundAmount reads the amount of a refund of an order, in its currency:
// empty means all that is left. More than is left is refused here, before
// the confirmation step, and again when the refund is reserved.
func RefundAmount(d OrderDetail, amount string) (billing.Money, error) {
	if d.Paid == nil || !d.Order.Status.Refundable() {
		return billing.Money{}, billing.Invalid("amount", "Order %s is %s: only a paid order can be refunded.", d.Order.Number(), d.Order.Status)
	}
	left := billing.Money{Amount: d.Paid.Refundable(), Currency: d.Paid.Money.Currency}
	if strings.TrimSpace(amount) == "" {
		return left, nil
	}
	m, err := billing.ParseAmount(amount, left.Currency)
	if err != nil {
		return billing.Money{}, err
	}
	if m.Amount > left.Amount {
		return billing.Money{}, billing.Invalid("amount", "At most %s can be refunded: %s was paid and the rest is refunded already.",
			left.Display(), d.Paid.Money.Display())
	}
	return m, nil
}

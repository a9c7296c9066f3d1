package stripeemu

import (
	"fmt"

	"github.com/stripe/stripe-go/v76"
)

// createRefund refunds a succeeded payment, named by payment_intent, in
// full or for amount. Card refunds succeed at once here (on
// Stripe they usually do too, in test mode). A charge refunded in full
// cannot be refunded again: Stripe's charge_already_refunded.
func (e *Emulator) createRefund(c *call) (any, error) {
	exp := parseExpand(c.p, kindRefund, false)
	piID := c.p.str("payment_intent")
	amount, hasAmount := c.p.int("amount"), c.p.has("amount")
	reason := c.p.oneOf("reason", "duplicate", "fraudulent", "requested_by_customer")
	md := c.p.metadata("metadata")
	c.p.need("payment_intent")
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	pi := e.paymentIntents[piID]
	if pi == nil {
		return nil, noSuchParam("payment_intent", piID, "payment_intent")
	}
	var ch *stripe.Charge
	if pi.Status == stripe.PaymentIntentStatusSucceeded && pi.LatestCharge != nil {
		ch = e.charges[pi.LatestCharge.ID]
	}
	if ch == nil || ch.Status != stripe.ChargeStatusSucceeded {
		return nil, invalidParam("payment_intent", fmt.Sprintf("This PaymentIntent (%s) does not have a successful charge to refund.", piID)).withCode("charge_not_refundable")
	}
	remaining := ch.Amount - ch.AmountRefunded
	if remaining <= 0 {
		return nil, invalidRequest(fmt.Sprintf("Charge %s has already been refunded.", ch.ID)).withCode("charge_already_refunded")
	}
	if !hasAmount {
		amount = remaining
	}
	if amount <= 0 {
		return nil, invalidParam("amount", "Invalid positive integer")
	}
	if amount > remaining {
		return nil, invalidParam("amount", fmt.Sprintf("Refund amount (%d) is greater than unrefunded amount on charge (%d)", amount, remaining)).withCode("amount_too_large")
	}
	r := &stripe.Refund{
		ID:            newID("re_"),
		Object:        "refund",
		Amount:        amount,
		Charge:        &stripe.Charge{ID: ch.ID},
		Created:       e.now().Unix(),
		Currency:      ch.Currency,
		Metadata:      orEmpty(md),
		PaymentIntent: ch.PaymentIntent,
		Reason:        stripe.RefundReason(reason),
		Status:        stripe.RefundStatusSucceeded,
	}
	e.refunds[r.ID] = r
	ch.AmountRefunded += amount
	ch.Refunded = ch.AmountRefunded == ch.Amount
	e.emitLocked(c.reqInfo(), "charge.refunded", kindCharge, ch.ID, map[string]any{"amount_refunded": ch.AmountRefunded - amount})
	e.emitLocked(c.reqInfo(), "refund.created", kindRefund, r.ID, nil)
	return e.renderLocked(kindRefund, r.ID, exp)
}

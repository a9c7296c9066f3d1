package stripeemu

import (
	"fmt"

	"github.com/stripe/stripe-go/v76"
)

// createRefund refunds a succeeded payment, named by payment_intent or
// charge, in full or for amount. Card refunds succeed at once here (on
// Stripe they usually do too, in test mode). A charge refunded in full
// cannot be refunded again: Stripe's charge_already_refunded.
func (e *Emulator) createRefund(c *call) (any, error) {
	exp, err := expandFor(c, kindRefund)
	if err != nil {
		return nil, err
	}
	piID, _, err := c.p.str("payment_intent")
	if err != nil {
		return nil, err
	}
	chID, _, err := c.p.str("charge")
	if err != nil {
		return nil, err
	}
	amount, hasAmount, err := c.p.integer("amount")
	if err != nil {
		return nil, err
	}
	reason, _, err := c.p.str("reason")
	if err != nil {
		return nil, err
	}
	md, _, err := c.p.metadata("metadata")
	if err != nil {
		return nil, err
	}
	switch reason {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		return nil, invalidParam("reason", fmt.Sprintf("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer (got %q).", reason))
	}
	if piID == "" && chID == "" {
		return nil, invalidRequest("One of the following params should be provided for this request: payment_intent or charge.")
	}
	if piID != "" && chID != "" {
		return nil, invalidRequest("You may only specify one of these parameters: charge, payment_intent.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var ch *stripe.Charge
	if piID != "" {
		pi := e.paymentIntents[piID]
		if pi == nil {
			return nil, noSuchParam("payment_intent", piID, "payment_intent")
		}
		if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.LatestCharge == nil {
			ae := invalidParam("payment_intent", fmt.Sprintf("This PaymentIntent (%s) does not have a successful charge to refund.", piID))
			ae.code = "charge_not_refundable"
			return nil, ae
		}
		ch = e.charges[pi.LatestCharge.ID]
	} else {
		ch = e.charges[chID]
		if ch == nil {
			return nil, noSuchParam("charge", chID, "charge")
		}
	}
	if ch == nil || ch.Status != stripe.ChargeStatusSucceeded {
		return nil, invalidParam("charge", "This charge cannot be refunded because it did not succeed.")
	}
	remaining := ch.Amount - ch.AmountRefunded
	if remaining <= 0 {
		ae := invalidRequest(fmt.Sprintf("Charge %s has already been refunded.", ch.ID))
		ae.code = "charge_already_refunded"
		return nil, ae
	}
	if !hasAmount {
		amount = remaining
	}
	if amount <= 0 {
		return nil, invalidParam("amount", "Invalid positive integer")
	}
	if amount > remaining {
		ae := invalidParam("amount", fmt.Sprintf("Refund amount (%d) is greater than unrefunded amount on charge (%d)", amount, remaining))
		ae.code = "amount_too_large"
		return nil, ae
	}
	if md == nil {
		md = map[string]string{}
	}
	r := &stripe.Refund{
		ID:            newID("re_"),
		Object:        "refund",
		Amount:        amount,
		Charge:        &stripe.Charge{ID: ch.ID},
		Created:       e.now().Unix(),
		Currency:      ch.Currency,
		Metadata:      md,
		PaymentIntent: ch.PaymentIntent,
		Reason:        stripe.RefundReason(reason),
		Status:        stripe.RefundStatusSucceeded,
	}
	e.refunds[r.ID] = r
	ch.AmountRefunded += amount
	ch.Refunded = ch.AmountRefunded == ch.Amount
	e.emitLocked(c.reqInfo(), "charge.refunded", kindCharge, ch.ID, map[string]any{"amount_refunded": ch.AmountRefunded - amount})
	e.emitLocked(c.reqInfo(), "refund.created", kindRefund, r.ID, nil)
	return e.renderResponse(kindRefund, r.ID, exp)
}

package stripeemu

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// zeroDecimal lists currencies whose amounts are whole units (Stripe's list).
func zeroDecimal(currency string) bool {
	switch currency {
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return true
	}
	return false
}

// minimums are Stripe's minimum charges where they differ from 50 (1 for
// zero-decimal currencies), in the currency's smallest unit.
var minimums = map[string]int64{"gbp": 30, "jpy": 50, "huf": 17500, "mxn": 1000, "hkd": 1000, "czk": 1500,
	"dkk": 300, "nok": 300, "sek": 300, "aed": 200, "pln": 200, "ron": 200, "myr": 200, "bgn": 100}

// minimumAmount is Stripe's minimum charge, in the currency's smallest unit.
func minimumAmount(currency string) int64 {
	if m, ok := minimums[currency]; ok {
		return m
	}
	if zeroDecimal(currency) {
		return 1
	}
	return 50
}

// isCurrencyCode reports whether s looks like an ISO 4217 code in lowercase.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// parseCurrency reads a currency parameter, lowercased as Stripe stores it.
func parseCurrency(p *reader, key string) string {
	cur := strings.ToLower(p.str(key))
	p.check(cur != "" && !isCurrencyCode(cur), invalidParam(p.full(key), fmt.Sprintf("Invalid currency: %s. Stripe currently supports these currencies: usd, eur, gbp, jpy, ...", cur)))
	return cur
}

func checkAmount(amount int64, currency, param string) error {
	if amount < minimumAmount(currency) {
		return invalidParam(param, fmt.Sprintf("Amount must be at least %s", formatAmount(minimumAmount(currency), currency))).withCode("amount_too_small")
	}
	if amount > 99999999 {
		return invalidParam(param, "Amount must be no more than 99,999,999 in the currency's smallest unit.").withCode("amount_too_large")
	}
	return nil
}

// cardTypes reads payment_method_types: cards are the one type the
// emulator knows.
func cardTypes(p *reader) []string {
	types := p.strs("payment_method_types")
	for _, t := range types {
		p.check(t != "card", invalidParam("payment_method_types", fmt.Sprintf("The Stripe emulator supports only the card payment method type (got %q).", t)))
	}
	return types
}

func declineMessage(declineCode string) string {
	switch declineCode {
	case "insufficient_funds":
		return "Your card has insufficient funds."
	case "authentication_required":
		return "Your card was declined. This transaction requires authentication."
	}
	return "Your card was declined."
}

// returnURLRequired is Stripe's answer to confirm=true with automatic
// payment methods that may redirect and no return_url. Stripe's changelog of
// 2023-08-16 says off_session=true is exempt, but its save-and-reuse guide
// sends a return_url with off_session=true and integrations report this
// error on such requests; the emulator takes the strict reading, so a request
// it accepts is valid on either.
const returnURLRequired = "A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents."

// dashboardPaymentMethodTypes are the types an emulated account has on in
// its Dashboard: what automatic payment methods resolve to.
var dashboardPaymentMethodTypes = []string{"card", "link"}

// paymentMethodsParam reads payment_method_types and
// automatic_payment_methods as Stripe does from API version 2023-08-16 on:
// with neither, automatic payment methods are on (the Dashboard decides,
// redirects allowed); the two together are refused. It returns the types
// and, when automatic payment methods are on, their settings.
func paymentMethodsParam(p *reader) ([]string, *stripe.PaymentIntentAutomaticPaymentMethods) {
	types := cardTypes(p)
	hasAPM := p.has("automatic_payment_methods")
	apm := p.obj("automatic_payment_methods")
	if hasAPM {
		apm.need("enabled")
	}
	enabled := !hasAPM || apm.bool("enabled")
	allow := apm.oneOf("allow_redirects", "always", "never")
	switch {
	case len(types) > 0 && hasAPM && enabled:
		p.fail(invalidRequest("You may only specify one of these parameters: automatic_payment_methods, payment_method_types."))
	case len(types) > 0:
		return types, nil
	case !enabled:
		p.fail(invalidParam("payment_method_types", "Either `payment_method_types` or `automatic_payment_methods[enabled]=true` must be given when `automatic_payment_methods[enabled]` is false."))
	}
	if allow == "" {
		allow = "always"
	}
	return slices.Clone(dashboardPaymentMethodTypes),
		&stripe.PaymentIntentAutomaticPaymentMethods{Enabled: true, AllowRedirects: stripe.PaymentIntentAutomaticPaymentMethodsAllowRedirects(allow)}
}

const authFailureMessage = "We are unable to authenticate your payment method. Please choose a different payment method and try again."

func (e *Emulator) createPaymentIntent(c *call) (any, error) {
	p := c.p
	exp := parseExpand(p, kindPaymentIntent, false)
	p.need("amount", "currency")
	amount, currency := p.int("amount"), parseCurrency(p, "currency")
	if p.has("amount") && currency != "" {
		p.fail(checkAmount(amount, currency, "amount"))
	}
	customer, pmID := p.str("customer"), p.str("payment_method")
	confirm := p.bool("confirm")
	// off_session is a boolean, or "one_off" / "recurring".
	offSession := p.oneOf("off_session", "true", "false", "one_off", "recurring")
	p.check(offSession != "" && !confirm, invalidParam("off_session", "You can only pass `off_session` when `confirm` is set to true."))
	p.check(confirm && pmID == "", invalidParam("payment_method", "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method."))
	md := p.metadata("metadata")
	types, apm := paymentMethodsParam(p)
	returnURL := p.str("return_url")
	p.check(returnURL != "" && !confirm, invalidParam("return_url", "You can only pass `return_url` when `confirm` is set to true."))
	p.check(confirm && apm != nil && apm.AllowRedirects != stripe.PaymentIntentAutomaticPaymentMethodsAllowRedirectsNever && returnURL == "", invalidRequest(returnURLRequired))
	if err := p.err(); err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if customer != "" && e.liveCustomerLocked(customer) == nil {
		return nil, noSuchParam("customer", customer, "customer")
	}
	var pm *paymentMethod
	if pmID != "" {
		if pm = e.paymentMethods[pmID]; pm == nil {
			return nil, noSuchParam("PaymentMethod", pmID, "payment_method")
		}
		if err := checkPMOwner(pm, customer); err != nil {
			return nil, err
		}
	}
	pi := e.newPaymentIntentLocked(amount, currency, customer, md)
	pi.PaymentMethodTypes = types
	pi.AutomaticPaymentMethods = apm
	if pm != nil {
		pi.PaymentMethod = &stripe.PaymentMethod{ID: pm.pm.ID}
		pi.Status = stripe.PaymentIntentStatusRequiresConfirmation
	}
	e.emitLocked(c.reqInfo(), "payment_intent.created", kindPaymentIntent, pi.ID, nil)
	if confirm {
		if ce := e.confirmLocked(c.reqInfo(), pi, pm, offSession != "" && offSession != "false", false); ce != nil {
			return nil, e.cardErrorLocked(pi, pm, ce)
		}
	}
	return e.renderLocked(kindPaymentIntent, pi.ID, exp)
}

// checkPMOwner applies Stripe's rule that a saved card is only used with its
// own customer.
func checkPMOwner(pm *paymentMethod, customer string) error {
	owner := ""
	if pm.pm.Customer != nil {
		owner = pm.pm.Customer.ID
	}
	switch {
	case pm.detached && owner == "":
		return invalidParam("payment_method", "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.")
	case owner != "" && customer == "":
		return invalidParam("payment_method", "The provided PaymentMethod is attached to a Customer; you must also pass that Customer's ID as `customer`.")
	case customer != "" && owner != customer:
		return invalidParam("payment_method", fmt.Sprintf("The customer does not have a payment method with the ID %s. The payment method must be attached to the customer.", pm.pm.ID))
	}
	return nil
}

func (e *Emulator) newPaymentIntentLocked(amount int64, currency, customer string, md map[string]string) *stripe.PaymentIntent {
	id := newID("pi_")
	pi := &stripe.PaymentIntent{
		ID:                 id,
		Object:             "payment_intent",
		Amount:             amount,
		Currency:           stripe.Currency(currency),
		CaptureMethod:      stripe.PaymentIntentCaptureMethodAutomatic,
		ConfirmationMethod: stripe.PaymentIntentConfirmationMethodAutomatic,
		ClientSecret:       id + "_secret_" + randomString(24),
		Created:            e.now().Unix(),
		Livemode:           false,
		Metadata:           orEmpty(md),
		PaymentMethodTypes: []string{"card"},
		Status:             stripe.PaymentIntentStatusRequiresPaymentMethod,
	}
	if customer != "" {
		pi.Customer = &stripe.Customer{ID: customer}
	}
	e.paymentIntents[id] = pi
	e.piIDs = append(e.piIDs, id)
	return pi
}

// confirmLocked charges pm for pi, following the test-card table: the card's
// behaviour, whether the customer is present (offSession) and whether a 3-D
// Secure step was just completed on the hosted page (authenticated). It
// returns the card error of a failed payment (pi left in
// requires_payment_method), nil when pi succeeded or now requires_action.
func (e *Emulator) confirmLocked(ri *reqInfo, pi *stripe.PaymentIntent, pm *paymentMethod, offSession, authenticated bool) *CardError {
	b := pm.behavior
	var ce *CardError
	switch {
	case b.declineCode != "":
		ce = &CardError{Code: "card_declined", DeclineCode: b.declineCode, Message: declineMessage(b.declineCode)}
	case offSession && pm.declineNext != "": // set by the decline_next test control
		ce, pm.declineNext = &CardError{Code: "card_declined", DeclineCode: pm.declineNext, Message: declineMessage(pm.declineNext)}, ""
	case b.offSessionDecline == "card_declined":
		// 0341 attaches fine but every charge is declined.
		ce = &CardError{Code: "card_declined", DeclineCode: "generic_decline", Message: declineMessage("generic_decline")}
	case offSession && b.offSessionDecline == "authentication_required":
		ce = &CardError{Code: "authentication_required", DeclineCode: "authentication_required", Message: declineMessage("authentication_required")}
	case !offSession && b.needs3DS && !authenticated:
		// Customer present through the API: the client would run 3-D Secure.
		pi.PaymentMethod = &stripe.PaymentMethod{ID: pm.pm.ID}
		pi.Status = stripe.PaymentIntentStatusRequiresAction
		pi.NextAction = &stripe.PaymentIntentNextAction{Type: "use_stripe_sdk"}
		e.emitLocked(ri, "payment_intent.requires_action", kindPaymentIntent, pi.ID, nil)
		return nil
	}
	if ce != nil {
		// Both declines leave a failed charge, authentication_required too.
		e.failPaymentLocked(ri, pi, pm, ce, true)
		return ce
	}

	ch := e.newChargeLocked(pi, pm, "")
	pi.Status = stripe.PaymentIntentStatusSucceeded
	pi.AmountReceived = pi.Amount
	pi.PaymentMethod = &stripe.PaymentMethod{ID: pm.pm.ID}
	pi.LatestCharge = &stripe.Charge{ID: ch.ID}
	pi.LastPaymentError = nil
	pi.NextAction = nil
	if pi.SetupFutureUsage != "" && pi.Customer != nil && pm.pm.Customer == nil {
		if err := e.attachLocked(ri, pm, pi.Customer.ID); err != nil {
			e.log.Warn("stripeemu: attach after payment failed", "payment_method", pm.pm.ID, "err", err)
		}
	}
	e.emitLocked(ri, "charge.succeeded", kindCharge, ch.ID, nil)
	e.emitLocked(ri, "payment_intent.succeeded", kindPaymentIntent, pi.ID, nil)
	return nil
}

// failPaymentLocked records a failed payment attempt on pi as Stripe does:
// requires_payment_method, last_payment_error, and (for declines) a failed charge.
func (e *Emulator) failPaymentLocked(ri *reqInfo, pi *stripe.PaymentIntent, pm *paymentMethod, ce *CardError, withCharge bool) {
	lpe := ce.stripeError(pm.pm.ID)
	var ch *stripe.Charge
	if withCharge {
		ch = e.newChargeLocked(pi, pm, ce.DeclineCode)
		ch.FailureCode = ce.Code
		lpe.ChargeID = ch.ID
		pi.LatestCharge = &stripe.Charge{ID: ch.ID}
	}
	pi.Status = stripe.PaymentIntentStatusRequiresPaymentMethod
	pi.PaymentMethod = nil
	pi.NextAction = nil
	pi.LastPaymentError = lpe
	if ch != nil {
		e.emitLocked(ri, "charge.failed", kindCharge, ch.ID, nil)
	}
	e.emitLocked(ri, "payment_intent.payment_failed", kindPaymentIntent, pi.ID, nil)
}

// cardErrorLocked is the 402 Stripe answers for a failed confirmation: the
// error with the PaymentIntent, PaymentMethod and charge embedded.
func (e *Emulator) cardErrorLocked(pi *stripe.PaymentIntent, pm *paymentMethod, ce *CardError) *apiError {
	ae := &apiError{status: http.StatusPaymentRequired, typ: "card_error", code: ce.Code, declineCode: ce.DeclineCode, message: ce.Message, extra: map[string]any{}}
	if obj, err := e.renderLocked(kindPaymentIntent, pi.ID, nil); err == nil {
		ae.extra["payment_intent"] = obj
	}
	if obj, err := e.renderLocked(kindPaymentMethod, pm.pm.ID, nil); err == nil {
		ae.extra["payment_method"] = obj
	}
	if pi.LastPaymentError != nil && pi.LastPaymentError.ChargeID != "" {
		ae.extra["charge"] = pi.LastPaymentError.ChargeID
	}
	ae.extra["request_log_url"] = "https://dashboard.stripe.com/test/logs"
	return ae
}

// newChargeLocked records the charge of one payment attempt; declineCode ""
// means it succeeded.
func (e *Emulator) newChargeLocked(pi *stripe.PaymentIntent, pm *paymentMethod, declineCode string) *stripe.Charge {
	ch := &stripe.Charge{
		ID:             newID("ch_"),
		Object:         "charge",
		Amount:         pi.Amount,
		Currency:       pi.Currency,
		Created:        e.now().Unix(),
		Customer:       pi.Customer,
		Description:    pi.Description,
		Livemode:       false,
		Metadata:       pi.Metadata,
		PaymentIntent:  &stripe.PaymentIntent{ID: pi.ID},
		PaymentMethod:  pm.pm.ID,
		BillingDetails: &stripe.ChargeBillingDetails{Email: pm.pm.BillingDetails.Email, Name: pm.pm.BillingDetails.Name},
		PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{
			Type: "card",
			Card: &stripe.ChargePaymentMethodDetailsCard{
				Brand:       stripe.PaymentMethodCardBrand(pm.pm.Card.Brand),
				ExpMonth:    pm.pm.Card.ExpMonth,
				ExpYear:     pm.pm.Card.ExpYear,
				Fingerprint: pm.pm.Card.Fingerprint,
				Funding:     pm.pm.Card.Funding,
				Last4:       pm.pm.Card.Last4,
				Country:     pm.pm.Card.Country,
			},
		},
	}
	if declineCode == "" {
		ch.Status = stripe.ChargeStatusSucceeded
		ch.Paid, ch.Captured = true, true
		ch.AmountCaptured = pi.Amount
		ch.Outcome = &stripe.ChargeOutcome{NetworkStatus: "approved_by_network", Type: "authorized", SellerMessage: "Payment complete.", RiskLevel: "normal"}
	} else {
		ch.Status = stripe.ChargeStatusFailed
		ch.FailureCode = "card_declined"
		ch.FailureMessage = declineMessage(declineCode)
		ch.Outcome = &stripe.ChargeOutcome{NetworkStatus: "declined_by_network", Type: "issuer_declined", Reason: declineCode, SellerMessage: "The bank did not return any further details with this decline.", RiskLevel: "normal"}
	}
	e.charges[ch.ID] = ch
	return ch
}

func (e *Emulator) cancelPaymentIntent(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp := parseExpand(c.p, kindPaymentIntent, false)
	reason := c.p.oneOf("cancellation_reason", "duplicate", "fraudulent", "requested_by_customer", "abandoned")
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	pi := e.paymentIntents[id]
	if pi == nil {
		return nil, notFound(kindPaymentIntent, id)
	}
	if pi.Status == stripe.PaymentIntentStatusSucceeded || pi.Status == stripe.PaymentIntentStatusCanceled {
		return nil, invalidRequest(fmt.Sprintf("You cannot cancel this PaymentIntent because it has a status of %s.", pi.Status)).withCode("payment_intent_unexpected_state")
	}
	e.cancelPaymentIntentLocked(c.reqInfo(), pi, reason)
	return e.renderLocked(kindPaymentIntent, id, exp)
}

func (e *Emulator) cancelPaymentIntentLocked(ri *reqInfo, pi *stripe.PaymentIntent, reason string) {
	pi.Status = stripe.PaymentIntentStatusCanceled
	pi.CanceledAt = e.now().Unix()
	pi.CancellationReason = stripe.PaymentIntentCancellationReason(reason)
	pi.NextAction = nil
	e.emitLocked(ri, "payment_intent.canceled", kindPaymentIntent, pi.ID, nil)
}

func (e *Emulator) listPaymentIntents(c *call) (any, error) {
	q := parseListQuery(c.p, kindPaymentIntent)
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listLocked(q, "/v1/payment_intents", kindPaymentIntent, e.piIDs, func(string) bool { return true })
}

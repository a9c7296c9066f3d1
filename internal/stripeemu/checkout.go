package stripeemu

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// Session lifetime limits, as Stripe enforces them for expires_at.
const (
	sessionDefaultTTL = 24 * time.Hour
	sessionMinTTL     = 30 * time.Minute
)

func (e *Emulator) createSession(c *call) (any, error) {
	p := c.p
	exp := parseExpand(p, kindSession, false)
	p.need("mode")
	mode := p.oneOf("mode", "payment", "setup", "subscription")
	p.check(mode == "subscription", invalidParam("mode", "The Stripe emulator does not support mode=subscription."))
	p.oneOf("ui_mode", "hosted")
	successURL, cancelURL := p.str("success_url"), p.str("cancel_url")
	p.need("success_url")
	p.check(successURL != "" && !validRedirectURL(successURL), invalidParam("success_url", "Not a valid URL"))
	p.check(cancelURL != "" && !validRedirectURL(cancelURL), invalidParam("cancel_url", "Not a valid URL"))
	customer, customerEmail := p.str("customer"), p.str("customer_email")
	p.check(customer != "" && customerEmail != "", invalidRequest("You may only specify one of these parameters: customer, customer_email."))
	p.check(customerEmail != "" && !plausibleEmail(customerEmail), invalidParam("customer_email", "Invalid email address: "+customerEmail))
	asked := cardTypes(p)
	pmTypes := asked
	if len(asked) == 0 {
		// Dynamic payment methods: the session echoes those the Dashboard
		// has on; the hosted page offers cards either way.
		pmTypes = slices.Clone(dashboardPaymentMethodTypes)
	}
	md := orEmpty(p.metadata("metadata"))
	clientRef := p.str("client_reference_id")
	p.check(len(clientRef) > 200, invalidParam("client_reference_id", "client_reference_id must be at most 200 characters."))
	now := e.now()
	expiresAt := now.Add(sessionDefaultTTL).Unix()
	if p.has("expires_at") {
		expiresAt = p.int("expires_at")
		p.check(expiresAt < now.Add(sessionMinTTL).Unix(), invalidParam("expires_at", "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation."))
		p.check(expiresAt > now.Add(sessionDefaultTTL).Unix(), invalidParam("expires_at", "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation."))
	}
	sess := &session{s: &stripe.CheckoutSession{
		Object:                   "checkout.session",
		Mode:                     stripe.CheckoutSessionMode(mode),
		Status:                   stripe.CheckoutSessionStatusOpen,
		SuccessURL:               successURL,
		CancelURL:                cancelURL,
		CustomerEmail:            customerEmail,
		ClientReferenceID:        clientRef,
		Metadata:                 md,
		Locale:                   p.str("locale"),
		ExpiresAt:                expiresAt,
		Created:                  now.Unix(),
		PaymentMethodTypes:       pmTypes,
		UIMode:                   stripe.CheckoutSessionUIModeHosted,
		BillingAddressCollection: stripe.CheckoutSessionBillingAddressCollectionAuto,
		CustomerCreation:         stripe.CheckoutSessionCustomerCreationIfRequired,
		PaymentMethodCollection:  stripe.CheckoutSessionPaymentMethodCollectionAlways,
		CustomFields:             []*stripe.CheckoutSessionCustomField{},
		ShippingOptions:          []*stripe.CheckoutSessionShippingOption{},
		AutomaticTax:             &stripe.CheckoutSessionAutomaticTax{},
		CustomText:               &stripe.CheckoutSessionCustomText{},
		PhoneNumberCollection:    &stripe.CheckoutSessionPhoneNumberCollection{},
	}}
	switch mode {
	case "setup":
		sessionSetupParams(p, sess, asked)
	case "payment":
		sessionPaymentParams(p, sess)
	}
	if err := p.err(); err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if customer != "" {
		if e.liveCustomerLocked(customer) == nil {
			return nil, noSuchParam("customer", customer, "customer")
		}
		sess.s.Customer = &stripe.Customer{ID: customer}
	}
	id := newID("cs_test_")
	sess.s.ID = id
	sess.s.URL = e.publicURL + "/c/pay/" + id
	e.sessions[id] = sess
	e.sessionIDs = append(e.sessionIDs, id)
	if sess.s.Mode == stripe.CheckoutSessionModeSetup {
		// Stripe creates a setup session's SetupIntent with the session.
		e.sessionSetupIntentLocked(c.reqInfo(), sess)
	}
	return e.renderLocked(kindSession, id, exp)
}

// sessionSetupParams reads the setup-mode part of a session create request.
func sessionSetupParams(p *reader, sess *session, asked []string) {
	currency := parseCurrency(p, "currency")
	// Stripe's rule: with dynamic payment methods (no payment_method_types),
	// setup mode needs a currency to know which methods to offer.
	if currency == "" && len(asked) == 0 {
		ae := missingParam("currency")
		ae.message = "Missing required param: currency. `currency` is required in setup mode when `payment_method_types` is not set (dynamic payment methods)."
		p.fail(ae)
	}
	for _, key := range []string{"line_items", "payment_intent_data"} {
		p.check(p.has(key), invalidParam(key, "You cannot pass `"+key+"` in `setup` mode."))
	}
	sid := p.obj("setup_intent_data")
	sess.siMetadata = sid.metadata("metadata")
	sess.piDescription = sid.str("description")
	sess.s.Currency = stripe.Currency(currency)
	sess.s.PaymentStatus = stripe.CheckoutSessionPaymentStatusNoPaymentRequired
}

// sessionPaymentParams reads line items and payment_intent_data of a
// payment-mode session; amount_total is the sum of the line items.
func sessionPaymentParams(p *reader, sess *session) {
	p.need("line_items")
	items := p.items("line_items")
	p.check(len(items) > 100, invalidParam("line_items", "You can have at most 100 line items."))
	currency := ""
	var total int64
	for _, item := range items {
		p.check(item.has("price"), invalidParam(item.full("price"), "The Stripe emulator has no Prices; use price_data."))
		item.need("price_data", "quantity")
		pd := item.obj("price_data")
		pd.need("currency", "unit_amount", "product_data")
		cur := parseCurrency(pd, "currency")
		p.check(currency != "" && cur != currency, invalidParam(pd.full("currency"), "All line items must use the same currency."))
		currency = cur
		unit := pd.int("unit_amount")
		p.check(unit < 0 || unit > 99999999, invalidParam(pd.full("unit_amount"), "unit_amount must be between 0 and 99999999."))
		prod := pd.obj("product_data")
		prod.need("name")
		p.check(strings.TrimSpace(prod.str("name")) == "", missingParam(prod.full("name")))
		qty := item.int("quantity")
		p.check(qty < 1 || qty > 999999, invalidParam(item.full("quantity"), "quantity must be between 1 and 999999."))
		total += unit * qty
		p.check(total > 99999999, invalidParam("line_items", "The total amount is too large."))
	}
	if len(items) > 0 {
		p.fail(checkAmount(total, currency, "line_items"))
	}
	pid := p.obj("payment_intent_data")
	sess.setupFutureUsage = pid.oneOf("setup_future_usage", "off_session", "on_session")
	sess.piMetadata = pid.metadata("metadata")
	sess.piDescription = pid.str("description")
	sess.s.Currency = stripe.Currency(currency)
	sess.s.AmountTotal = total
	sess.s.AmountSubtotal = total
	sess.s.PaymentStatus = stripe.CheckoutSessionPaymentStatusUnpaid
	sess.s.TotalDetails = &stripe.CheckoutSessionTotalDetails{}
}

func validRedirectURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= 5000
}

// sessionLocked returns a session, first expiring it if its time has passed
// (the sweep may not have run yet).
func (e *Emulator) sessionLocked(id string) *session {
	s := e.sessions[id]
	if s != nil && s.s.Status == stripe.CheckoutSessionStatusOpen && e.now().Unix() >= s.s.ExpiresAt {
		e.expireLocked(nil, s)
	}
	return s
}

// expireLocked closes an open session and abandons its unfinished intent.
func (e *Emulator) expireLocked(ri *reqInfo, s *session) {
	s.s.Status = stripe.CheckoutSessionStatusExpired
	s.s.URL = ""
	if s.s.PaymentIntent != nil {
		if pi := e.paymentIntents[s.s.PaymentIntent.ID]; pi != nil && pi.Status != stripe.PaymentIntentStatusSucceeded && pi.Status != stripe.PaymentIntentStatusCanceled {
			e.cancelPaymentIntentLocked(ri, pi, "abandoned")
		}
	}
	if s.s.SetupIntent != nil {
		if si := e.setupIntents[s.s.SetupIntent.ID]; si != nil && si.Status != stripe.SetupIntentStatusSucceeded && si.Status != stripe.SetupIntentStatusCanceled {
			si.Status = stripe.SetupIntentStatusCanceled
			si.CancellationReason = stripe.SetupIntentCancellationReasonAbandoned
			e.emitLocked(ri, "setup_intent.canceled", kindSetupIntent, si.ID, nil)
		}
	}
	e.emitLocked(ri, "checkout.session.expired", kindSession, s.s.ID, nil)
}

func (e *Emulator) listSessions(c *call) (any, error) {
	q := parseListQuery(c.p, kindSession)
	customer, status := c.p.str("customer"), c.p.str("status")
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range e.sessionIDs {
		e.sessionLocked(id) // expire what is due before filtering on status
	}
	return e.listLocked(q, "/v1/checkout/sessions", kindSession, e.sessionIDs, func(id string) bool {
		s := e.sessions[id].s
		return (status == "" || string(s.Status) == status) && (customer == "" || s.Customer != nil && s.Customer.ID == customer)
	})
}

func (e *Emulator) expireSession(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp := parseExpand(c.p, kindSession, false)
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessionLocked(id)
	if s == nil {
		return nil, notFound(kindSession, id)
	}
	if s.s.Status != stripe.CheckoutSessionStatusOpen {
		return nil, invalidRequest(fmt.Sprintf("Only Checkout Sessions with a status of `open` can be expired. This session has a status of `%s`.", s.s.Status)).withCode("checkout_session_not_open")
	}
	e.expireLocked(c.reqInfo(), s)
	return e.renderLocked(kindSession, id, exp)
}

// authStep is the 3-D Secure outcome of a checkout attempt.
type authStep int

const (
	authNone      authStep = iota // no authentication was done
	authCompleted                 // the customer completed 3-D Secure
	authFailed                    // the customer failed 3-D Secure
)

// CompleteCheckout submits card on the hosted page of session sessionID, by the
// same code path as the page's form: a card that needs 3-D Secure completes it
// unless card.FailAuthentication. It returns a *ValidationError for bad input,
// a *CardError for a decline or failed authentication (the session stays
// open), ErrNotFound or ErrSessionNotOpen (wrapped), or nil once the session is
// complete.
func (e *Emulator) CompleteCheckout(ctx context.Context, sessionID string, card Card) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("complete checkout %s: %w", sessionID, err)
	}
	cd, verr := validateCard(card, e.now())
	if verr != nil {
		return verr
	}
	auth := authNone
	if cd.behavior.needs3DS {
		auth = authCompleted
		if card.FailAuthentication {
			auth = authFailed
		}
	}
	_, err := e.attemptCheckout(sessionID, cd, auth)
	if cerr := e.commit(ctx, true); cerr != nil && err == nil {
		err = fmt.Errorf("complete checkout %s: %w", sessionID, cerr)
	}
	return err
}

// attemptCheckout pays or sets up with a validated card, the 3-D Secure step
// already resolved, and returns the URL to send the customer to on success.
func (e *Emulator) attemptCheckout(sessionID string, cd cardDetails, auth authStep) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessionLocked(sessionID)
	if s == nil {
		return "", fmt.Errorf("complete checkout %s: %w", sessionID, ErrNotFound)
	}
	if s.s.Status != stripe.CheckoutSessionStatusOpen {
		return "", fmt.Errorf("complete checkout %s (status %s): %w", sessionID, s.s.Status, ErrSessionNotOpen)
	}
	pm := e.createPaymentMethodLocked(cd)
	var err error
	if s.s.Mode == stripe.CheckoutSessionModeSetup {
		err = e.setupAttemptLocked(s, pm, auth)
	} else {
		err = e.paymentAttemptLocked(s, pm, auth)
	}
	if err != nil {
		return "", err
	}
	s.s.Status = stripe.CheckoutSessionStatusComplete
	s.s.URL = ""
	s.s.CustomerDetails = &stripe.CheckoutSessionCustomerDetails{
		Email:     cd.email,
		Name:      cd.name,
		TaxExempt: "none",
		TaxIDs:    []*stripe.CheckoutSessionCustomerDetailsTaxID{},
	}
	if s.s.Mode == stripe.CheckoutSessionModePayment {
		s.s.PaymentStatus = stripe.CheckoutSessionPaymentStatusPaid
	}
	e.emitLocked(nil, "checkout.session.completed", kindSession, s.s.ID, nil)
	return strings.ReplaceAll(s.s.SuccessURL, "{CHECKOUT_SESSION_ID}", s.s.ID), nil
}

// setupAttemptLocked saves the card through the session's SetupIntent.
func (e *Emulator) setupAttemptLocked(s *session, pm *paymentMethod, auth authStep) error {
	si := e.sessionSetupIntentLocked(nil, s)
	var ce *CardError
	switch {
	case pm.behavior.declineCode != "":
		ce = &CardError{Code: "card_declined", DeclineCode: pm.behavior.declineCode, Message: declineMessage(pm.behavior.declineCode)}
	case pm.behavior.needs3DS && auth != authCompleted:
		ce = &CardError{Code: "setup_intent_authentication_failure", Message: authFailureMessage}
	}
	if ce != nil {
		si.Status = stripe.SetupIntentStatusRequiresPaymentMethod
		si.PaymentMethod = nil
		si.LastSetupError = ce.stripeError(pm.pm.ID)
		e.emitLocked(nil, "setup_intent.setup_failed", kindSetupIntent, si.ID, nil)
		return ce
	}
	if s.s.Customer != nil {
		if err := e.attachLocked(nil, pm, s.s.Customer.ID); err != nil {
			return fmt.Errorf("attach %s: %w", pm.pm.ID, err)
		}
	}
	si.Status = stripe.SetupIntentStatusSucceeded
	si.PaymentMethod = &stripe.PaymentMethod{ID: pm.pm.ID}
	si.LastSetupError = nil
	e.emitLocked(nil, "setup_intent.succeeded", kindSetupIntent, si.ID, nil)
	return nil
}

// sessionSetupIntentLocked returns the session's SetupIntent, creating it if
// missing (sessions saved before it was created with the session).
func (e *Emulator) sessionSetupIntentLocked(ri *reqInfo, s *session) *stripe.SetupIntent {
	if s.s.SetupIntent != nil {
		if si := e.setupIntents[s.s.SetupIntent.ID]; si != nil {
			return si
		}
	}
	id := newID("seti_")
	si := &stripe.SetupIntent{
		ID:                 id,
		Object:             "setup_intent",
		ClientSecret:       id + "_secret_" + randomString(32),
		Created:            e.now().Unix(),
		Customer:           s.s.Customer,
		Description:        s.piDescription,
		Livemode:           false,
		Metadata:           orEmpty(s.siMetadata),
		PaymentMethodTypes: slices.Clone(s.s.PaymentMethodTypes),
		FlowDirections:     nil,
		Status:             stripe.SetupIntentStatusRequiresPaymentMethod,
		Usage:              stripe.SetupIntentUsageOffSession,
		PaymentMethodOptions: &stripe.SetupIntentPaymentMethodOptions{
			Card: &stripe.SetupIntentPaymentMethodOptionsCard{RequestThreeDSecure: "automatic"},
		},
	}
	e.setupIntents[id] = si
	s.s.SetupIntent = &stripe.SetupIntent{ID: id}
	e.emitLocked(ri, "setup_intent.created", kindSetupIntent, id, nil)
	return si
}

// paymentAttemptLocked pays the session's amount through its PaymentIntent.
func (e *Emulator) paymentAttemptLocked(s *session, pm *paymentMethod, auth authStep) error {
	pi := e.sessionPaymentIntentLocked(s)
	if pm.behavior.needs3DS && auth == authFailed && pm.behavior.declineCode == "" {
		ce := &CardError{Code: "payment_intent_authentication_failure", Message: authFailureMessage}
		e.failPaymentLocked(nil, pi, pm, ce, false)
		return ce
	}
	if ce := e.confirmLocked(nil, pi, pm, false, auth == authCompleted); ce != nil {
		return ce
	}
	if pi.Status != stripe.PaymentIntentStatusSucceeded {
		// Only a 3-D Secure card without a completed authentication gets here.
		ce := &CardError{Code: "payment_intent_authentication_failure", Message: authFailureMessage}
		e.failPaymentLocked(nil, pi, pm, ce, false)
		return ce
	}
	return nil
}

// sessionPaymentIntentLocked returns the session's PaymentIntent, creating it
// on the first attempt as Stripe does since API version 2022-08-01.
func (e *Emulator) sessionPaymentIntentLocked(s *session) *stripe.PaymentIntent {
	if s.s.PaymentIntent != nil {
		if pi := e.paymentIntents[s.s.PaymentIntent.ID]; pi != nil {
			return pi
		}
	}
	customer := ""
	if s.s.Customer != nil {
		customer = s.s.Customer.ID
	}
	pi := e.newPaymentIntentLocked(s.s.AmountTotal, string(s.s.Currency), customer, s.piMetadata)
	pi.Description = s.piDescription
	pi.PaymentMethodTypes = slices.Clone(s.s.PaymentMethodTypes)
	pi.SetupFutureUsage = stripe.PaymentIntentSetupFutureUsage(s.setupFutureUsage)
	s.s.PaymentIntent = &stripe.PaymentIntent{ID: pi.ID}
	e.emitLocked(nil, "payment_intent.created", kindPaymentIntent, pi.ID, nil)
	return pi
}

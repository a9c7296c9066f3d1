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
	exp, err := expandFor(c, kindSession)
	if err != nil {
		return nil, err
	}
	p := c.p
	mode, _, err := p.str("mode")
	if err != nil {
		return nil, err
	}
	switch mode {
	case "":
		return nil, missingParam("mode")
	case "setup", "payment":
	case "subscription":
		return nil, invalidParam("mode", "The Stripe emulator does not support mode=subscription.")
	default:
		return nil, invalidParam("mode", fmt.Sprintf("Invalid mode: must be one of payment, setup, or subscription (got %q)", mode))
	}
	if ui, _, err := p.str("ui_mode"); err != nil {
		return nil, err
	} else if ui != "" && ui != "hosted" {
		return nil, invalidParam("ui_mode", "The Stripe emulator supports only ui_mode=hosted.")
	}
	successURL, _, err := p.str("success_url")
	if err != nil {
		return nil, err
	}
	if successURL == "" {
		return nil, missingParam("success_url")
	}
	if !validRedirectURL(successURL) {
		return nil, invalidParam("success_url", "Not a valid URL")
	}
	cancelURL, _, err := p.str("cancel_url")
	if err != nil {
		return nil, err
	}
	if cancelURL != "" && !validRedirectURL(cancelURL) {
		return nil, invalidParam("cancel_url", "Not a valid URL")
	}
	customer, _, err := p.str("customer")
	if err != nil {
		return nil, err
	}
	customerEmail, _, err := p.str("customer_email")
	if err != nil {
		return nil, err
	}
	if customer != "" && customerEmail != "" {
		return nil, invalidRequest("You may only specify one of these parameters: customer, customer_email.")
	}
	if customerEmail != "" && !plausibleEmail(customerEmail) {
		return nil, invalidParam("customer_email", "Invalid email address: "+customerEmail)
	}
	pmTypes, err := p.strList("payment_method_types")
	if err != nil {
		return nil, err
	}
	for _, t := range pmTypes {
		if t != "card" {
			return nil, invalidParam("payment_method_types", fmt.Sprintf("The Stripe emulator supports only the card payment method type (got %q).", t))
		}
	}
	md, _, err := p.metadata("metadata")
	if err != nil {
		return nil, err
	}
	if md == nil {
		md = map[string]string{}
	}
	clientRef, _, err := p.str("client_reference_id")
	if err != nil {
		return nil, err
	}
	if len(clientRef) > 200 {
		return nil, invalidParam("client_reference_id", "client_reference_id must be at most 200 characters.")
	}
	locale, _, err := p.str("locale")
	if err != nil {
		return nil, err
	}

	now := e.now()
	expiresAt := now.Add(sessionDefaultTTL).Unix()
	if v, ok, err := p.integer("expires_at"); err != nil {
		return nil, err
	} else if ok {
		if v < now.Add(sessionMinTTL).Unix() {
			return nil, invalidParam("expires_at", "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.")
		}
		if v > now.Add(sessionDefaultTTL).Unix() {
			return nil, invalidParam("expires_at", "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.")
		}
		expiresAt = v
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
		Locale:                   locale,
		ExpiresAt:                expiresAt,
		Created:                  now.Unix(),
		Livemode:                 false,
		PaymentMethodTypes:       sessionMethodTypes(pmTypes),
		UIMode:                   stripe.CheckoutSessionUIModeHosted,
		BillingAddressCollection: stripe.CheckoutSessionBillingAddressCollectionAuto,
		CustomerCreation:         stripe.CheckoutSessionCustomerCreationIfRequired,
		PaymentMethodCollection:  stripe.CheckoutSessionPaymentMethodCollectionAlways,
		CustomFields:             []*stripe.CheckoutSessionCustomField{},
		ShippingOptions:          []*stripe.CheckoutSessionShippingOption{},
		AutomaticTax:             &stripe.CheckoutSessionAutomaticTax{},
	}}

	switch mode {
	case "setup":
		if err := sessionSetupParams(p, sess, pmTypes); err != nil {
			return nil, err
		}
	case "payment":
		if err := sessionPaymentParams(p, sess); err != nil {
			return nil, err
		}
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
	return e.renderResponse(kindSession, id, exp)
}

// sessionMethodTypes is what a session echoes as payment_method_types: the
// types asked for, else (dynamic payment methods) those the Dashboard has on.
// The hosted page offers cards either way: the only type the emulator knows.
func sessionMethodTypes(asked []string) []string {
	if len(asked) > 0 {
		return asked
	}
	return slices.Clone(dashboardPaymentMethodTypes)
}

// sessionSetupParams reads the setup-mode part of a session create request.
func sessionSetupParams(p params, sess *session, pmTypes []string) error {
	currency, err := parseCurrency(p, "currency", "currency", false)
	if err != nil {
		return err
	}
	// Stripe's rule: with dynamic payment methods (no payment_method_types),
	// setup mode needs a currency to know which methods to offer.
	if currency == "" && len(pmTypes) == 0 {
		ae := missingParam("currency")
		ae.message = "Missing required param: currency. `currency` is required in setup mode when `payment_method_types` is not set (dynamic payment methods)."
		return ae
	}
	if _, ok := p["line_items"]; ok {
		return invalidParam("line_items", "You cannot pass `line_items` in `setup` mode.")
	}
	if _, ok := p["payment_intent_data"]; ok {
		return invalidParam("payment_intent_data", "You cannot pass `payment_intent_data` in `setup` mode.")
	}
	sid, err := p.obj("setup_intent_data")
	if err != nil {
		return err
	}
	if sid != nil {
		if sess.siMetadata, _, err = sid.metadata("metadata"); err != nil {
			return err
		}
		if sess.piDescription, _, err = sid.str("description"); err != nil {
			return err
		}
	}
	sess.s.Currency = stripe.Currency(currency)
	sess.s.PaymentStatus = stripe.CheckoutSessionPaymentStatusNoPaymentRequired
	return nil
}

// sessionPaymentParams reads line items and payment_intent_data of a
// payment-mode session; amount_total is the sum of the line items.
func sessionPaymentParams(p params, sess *session) error {
	items, err := p.list("line_items")
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return missingParam("line_items")
	}
	if len(items) > 100 {
		return invalidParam("line_items", "You can have at most 100 line items.")
	}
	currency := ""
	var total int64
	for i, raw := range items {
		prefix := fmt.Sprintf("line_items[%d]", i)
		item, ok := raw.(params)
		if !ok {
			return invalidParam(prefix, "Invalid line item: expected a hash.")
		}
		if _, ok := item["price"]; ok {
			return invalidParam(prefix+"[price]", "The Stripe emulator has no Prices; use price_data.")
		}
		pd, err := item.obj("price_data")
		if err != nil || pd == nil {
			return missingParam(prefix + "[price_data]")
		}
		cur, err := parseCurrency(pd, "currency", prefix+"[price_data][currency]", true)
		if err != nil {
			return err
		}
		if currency != "" && cur != currency {
			return invalidParam(prefix+"[price_data][currency]", "All line items must use the same currency.")
		}
		currency = cur
		unit, ok, err := pd.integer("unit_amount")
		if err != nil {
			return invalidParam(prefix+"[price_data][unit_amount]", "Invalid integer.")
		}
		if !ok {
			return missingParam(prefix + "[price_data][unit_amount]")
		}
		if unit < 0 || unit > 99999999 {
			return invalidParam(prefix+"[price_data][unit_amount]", "unit_amount must be between 0 and 99999999.")
		}
		prod, err := pd.obj("product_data")
		if err != nil {
			return err
		}
		if prod == nil {
			return missingParam(prefix + "[price_data][product_data]")
		}
		if name, _, err := prod.str("name"); err != nil || strings.TrimSpace(name) == "" {
			return missingParam(prefix + "[price_data][product_data][name]")
		}
		qty, ok, err := item.integer("quantity")
		if err != nil {
			return invalidParam(prefix+"[quantity]", "Invalid integer.")
		}
		if !ok {
			return missingParam(prefix + "[quantity]")
		}
		if qty < 1 || qty > 999999 {
			return invalidParam(prefix+"[quantity]", "quantity must be between 1 and 999999.")
		}
		total += unit * qty
		if total > 99999999 {
			return invalidParam("line_items", "The total amount is too large.")
		}
	}
	if err := checkAmount(total, currency, "line_items"); err != nil {
		return err
	}
	pid, err := p.obj("payment_intent_data")
	if err != nil {
		return err
	}
	if pid != nil {
		sfu, _, err := pid.str("setup_future_usage")
		if err != nil {
			return err
		}
		if sfu != "" && sfu != "off_session" && sfu != "on_session" {
			return invalidParam("payment_intent_data[setup_future_usage]", "Invalid setup_future_usage: must be one of off_session or on_session")
		}
		sess.setupFutureUsage = sfu
		if sess.piMetadata, _, err = pid.metadata("metadata"); err != nil {
			return err
		}
		if sess.piDescription, _, err = pid.str("description"); err != nil {
			return err
		}
	}
	sess.s.Currency = stripe.Currency(currency)
	sess.s.AmountTotal = total
	sess.s.AmountSubtotal = total
	sess.s.PaymentStatus = stripe.CheckoutSessionPaymentStatusUnpaid
	sess.s.TotalDetails = &stripe.CheckoutSessionTotalDetails{}
	return nil
}

func validRedirectURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= 5000
}

// sessionLocked returns a session, first expiring it if its time has passed
// (Stripe expires sessions in the background; lazily is indistinguishable).
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
	q, err := parseListQuery(c.p, kindSession)
	if err != nil {
		return nil, err
	}
	created, err := parseCreated(c.p)
	if err != nil {
		return nil, err
	}
	filters := map[string]string{}
	for _, key := range []string{"customer", "status", "payment_intent", "setup_intent"} {
		v, _, err := c.p.str(key)
		if err != nil {
			return nil, err
		}
		if v != "" {
			filters[key] = v
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range e.sessionIDs {
		e.sessionLocked(id) // expire what is due before filtering on status
	}
	return e.listLocked(q, "/v1/checkout/sessions", kindSession, e.sessionIDs, func(id string) bool {
		s := e.sessions[id].s
		got := map[string]string{"status": string(s.Status)}
		if s.Customer != nil {
			got["customer"] = s.Customer.ID
		}
		if s.PaymentIntent != nil {
			got["payment_intent"] = s.PaymentIntent.ID
		}
		if s.SetupIntent != nil {
			got["setup_intent"] = s.SetupIntent.ID
		}
		for k, v := range filters {
			if got[k] != v {
				return false
			}
		}
		return created.match(s.Created)
	})
}

func (e *Emulator) expireSession(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp, err := expandFor(c, kindSession)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessionLocked(id)
	if s == nil {
		return nil, notFound(kindSession, id)
	}
	if s.s.Status != stripe.CheckoutSessionStatusOpen {
		ae := invalidRequest(fmt.Sprintf("Only Checkout Sessions with a status of `open` can be expired. This session has a status of `%s`.", s.s.Status))
		ae.code = "checkout_session_not_open"
		return nil, ae
	}
	e.expireLocked(c.reqInfo(), s)
	return e.renderResponse(kindSession, id, exp)
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
	si := e.sessionSetupIntentLocked(s)
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
		si.LastSetupError = &stripe.Error{
			Type: stripe.ErrorTypeCard, Code: stripe.ErrorCode(ce.Code), DeclineCode: stripe.DeclineCode(ce.DeclineCode), Msg: ce.Message,
			DocURL:        "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(ce.Code, "_", "-"),
			PaymentMethod: &stripe.PaymentMethod{ID: pm.pm.ID},
		}
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

// sessionSetupIntentLocked returns the session's SetupIntent, creating it on the
// first attempt.
func (e *Emulator) sessionSetupIntentLocked(s *session) *stripe.SetupIntent {
	if s.s.SetupIntent != nil {
		if si := e.setupIntents[s.s.SetupIntent.ID]; si != nil {
			return si
		}
	}
	id := newID("seti_")
	md := s.siMetadata
	if md == nil {
		md = map[string]string{}
	}
	si := &stripe.SetupIntent{
		ID:                 id,
		Object:             "setup_intent",
		ClientSecret:       id + "_secret_" + randomString(32),
		Created:            e.now().Unix(),
		Customer:           s.s.Customer,
		Description:        s.piDescription,
		Livemode:           false,
		Metadata:           md,
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
	e.emitLocked(nil, "setup_intent.created", kindSetupIntent, id, nil)
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

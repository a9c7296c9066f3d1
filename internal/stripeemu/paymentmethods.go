package stripeemu

import (
	"github.com/stripe/stripe-go/v76"
)

// createPaymentMethodLocked stores a card payment method made from the hosted
// page; the card number itself is not kept, only its last 4, fingerprint and
// test-card behaviour. Callers hold e.mu.
func (e *Emulator) createPaymentMethodLocked(card cardDetails) *paymentMethod {
	pm := &stripe.PaymentMethod{
		ID:       newID("pm_"),
		Object:   "payment_method",
		Type:     stripe.PaymentMethodTypeCard,
		Created:  e.now().Unix(),
		Livemode: false,
		Metadata: map[string]string{},
		BillingDetails: &stripe.PaymentMethodBillingDetails{
			Address: &stripe.Address{},
			Email:   card.email,
			Name:    card.name,
		},
		Card: &stripe.PaymentMethodCard{
			Brand:       stripe.PaymentMethodCardBrand(card.brand),
			Checks:      &stripe.PaymentMethodCardChecks{CVCCheck: "pass"},
			Country:     "US",
			ExpMonth:    card.expMonth,
			ExpYear:     card.expYear,
			Fingerprint: card.fingerprint(),
			Funding:     stripe.CardFundingCredit,
			Last4:       card.last4(),
			Networks:    &stripe.PaymentMethodCardNetworks{Available: []stripe.PaymentMethodCardNetworksAvailable{stripe.PaymentMethodCardNetworksAvailable(card.brand)}},
			ThreeDSecureUsage: &stripe.PaymentMethodCardThreeDSecureUsage{
				Supported: true,
			},
		},
	}
	rec := &paymentMethod{pm: pm, behavior: card.behavior}
	e.paymentMethods[pm.ID] = rec
	e.pmIDs = append(e.pmIDs, pm.ID)
	return rec
}

// attachLocked attaches a payment method to a customer and emits
// payment_method.attached; attaching to the same customer again is a no-op.
func (e *Emulator) attachLocked(ri *reqInfo, pm *paymentMethod, customerID string) error {
	if pm.pm.Customer != nil {
		if pm.pm.Customer.ID == customerID {
			return nil
		}
		return invalidParam("customer", "The payment method you provided has already been attached to a customer.")
	}
	if pm.detached {
		return invalidRequest("This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.")
	}
	pm.pm.Customer = &stripe.Customer{ID: customerID}
	e.emitLocked(ri, "payment_method.attached", kindPaymentMethod, pm.pm.ID, nil)
	return nil
}

func (e *Emulator) attachPaymentMethod(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp := parseExpand(c.p, kindPaymentMethod, false)
	customer := c.p.str("customer")
	c.p.need("customer")
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	pm := e.paymentMethods[id]
	if pm == nil {
		return nil, notFound(kindPaymentMethod, id)
	}
	if e.liveCustomerLocked(customer) == nil {
		return nil, noSuchParam("customer", customer, "customer")
	}
	if err := e.attachLocked(c.reqInfo(), pm, customer); err != nil {
		return nil, err
	}
	return e.renderLocked(kindPaymentMethod, id, exp)
}

func (e *Emulator) detachPaymentMethod(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp := parseExpand(c.p, kindPaymentMethod, false)
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	pm := e.paymentMethods[id]
	if pm == nil {
		return nil, notFound(kindPaymentMethod, id)
	}
	if pm.pm.Customer == nil {
		return nil, invalidRequest("The payment method you provided is not attached to a customer so detachment is impossible.")
	}
	customerID := pm.pm.Customer.ID
	pm.pm.Customer = nil
	pm.detached = true
	e.emitLocked(c.reqInfo(), "payment_method.detached", kindPaymentMethod, id, map[string]any{"customer": customerID})
	// A detached card can no longer be the customer's default.
	if cus := e.liveCustomerLocked(customerID); cus != nil && cus.InvoiceSettings.DefaultPaymentMethod != nil &&
		cus.InvoiceSettings.DefaultPaymentMethod.ID == id {
		if err := e.changeLocked(c.reqInfo(), kindCustomer, customerID, func() { cus.InvoiceSettings.DefaultPaymentMethod = nil }); err != nil {
			return nil, err
		}
	}
	return e.renderLocked(kindPaymentMethod, id, exp)
}

// updatePaymentMethod changes a card's expiry or metadata, as when a
// customer's bank reissues a card.
func (e *Emulator) updatePaymentMethod(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp := parseExpand(c.p, kindPaymentMethod, false)
	card := c.p.obj("card")
	month, hasMonth := card.int("exp_month"), card.has("exp_month")
	year, hasYear := card.int("exp_year"), card.has("exp_year")
	if hasYear && year < 100 {
		year += 2000
	}
	md := c.p.metadata("metadata")
	now := int64(e.now().Year())
	c.p.check(hasMonth && (month < 1 || month > 12), invalidParam("card[exp_month]", "Your card's expiration month is invalid."))
	c.p.check(hasYear && (year < now || year > now+50), invalidParam("card[exp_year]", "Your card's expiration year is invalid."))
	if err := c.p.err(); err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	pm := e.paymentMethods[id]
	if pm == nil {
		return nil, notFound(kindPaymentMethod, id)
	}
	if pm.pm.Customer == nil {
		return nil, invalidRequest("You must save this PaymentMethod to a customer before you can update it.")
	}
	err := e.changeLocked(c.reqInfo(), kindPaymentMethod, id, func() {
		if hasMonth {
			pm.pm.Card.ExpMonth = month
		}
		if hasYear {
			pm.pm.Card.ExpYear = year
		}
		if md != nil {
			pm.pm.Metadata = mergeMetadata(pm.pm.Metadata, md)
		}
	})
	if err != nil {
		return nil, err
	}
	return e.renderLocked(kindPaymentMethod, id, exp)
}

// testControl serves the test-only controls (README): only with
// Options.SecretKey, so only the holder of the emulator's own key reaches them.
func (e *Emulator) testControl(c *call) (any, error) {
	id, action, p := c.r.PathValue("id"), c.r.PathValue("action"), c.p
	if e.opts.SecretKey == "" || action != "decline_next" && action != "update_expiry" {
		return e.unknownRoute(c)
	}
	code := p.oneOf("decline_code", "generic_decline", "insufficient_funds", "lost_card", "stolen_card", "expired_card", "do_not_honor", "card_velocity_exceeded")
	month, year := p.int("exp_month"), p.int("exp_year")
	p.check(action == "decline_next" && code == "", missingParam("decline_code"))
	p.check(action == "update_expiry" && (month < 1 || month > 12 || year < int64(e.now().Year())), invalidRequest("exp_month and exp_year must name a month from this year on."))
	e.mu.Lock()
	defer e.mu.Unlock()
	pm := e.paymentMethods[id]
	p.check(pm == nil, notFound(kindPaymentMethod, id))
	if err := p.err(); err != nil {
		return nil, err
	}
	if action == "decline_next" {
		pm.declineNext = code
	} else { // the card account updater: a new expiry, and its own event
		prev := map[string]any{"card": map[string]any{"exp_month": pm.pm.Card.ExpMonth, "exp_year": pm.pm.Card.ExpYear}}
		pm.pm.Card.ExpMonth, pm.pm.Card.ExpYear = month, year
		e.emitLocked(c.reqInfo(), "payment_method.automatically_updated", kindPaymentMethod, id, prev)
	}
	return e.renderLocked(kindPaymentMethod, id, nil)
}

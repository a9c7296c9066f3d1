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
			Brand:        stripe.PaymentMethodCardBrand(card.brand),
			DisplayBrand: card.brand,
			Checks:       &stripe.PaymentMethodCardChecks{CVCCheck: "pass"},
			Country:      "US",
			ExpMonth:     card.expMonth,
			ExpYear:      card.expYear,
			Fingerprint:  card.fingerprint(),
			Funding:      stripe.CardFundingCredit,
			Last4:        card.last4(),
			Networks:     &stripe.PaymentMethodCardNetworks{Available: []stripe.PaymentMethodCardNetworksAvailable{stripe.PaymentMethodCardNetworksAvailable(card.brand)}},
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
	exp, err := expandFor(c, kindPaymentMethod)
	if err != nil {
		return nil, err
	}
	customer, _, err := c.p.str("customer")
	if err != nil {
		return nil, err
	}
	if customer == "" {
		return nil, missingParam("customer")
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
	return e.renderResponse(kindPaymentMethod, id, exp)
}

func (e *Emulator) detachPaymentMethod(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp, err := expandFor(c, kindPaymentMethod)
	if err != nil {
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
		before, err := e.renderLocked(kindCustomer, customerID, nil)
		if err != nil {
			return nil, err
		}
		cus.InvoiceSettings.DefaultPaymentMethod = nil
		after, err := e.renderLocked(kindCustomer, customerID, nil)
		if err != nil {
			return nil, err
		}
		e.emitLocked(c.reqInfo(), "customer.updated", kindCustomer, customerID, previousAttributes(before, after))
	}
	return e.renderResponse(kindPaymentMethod, id, exp)
}

// updatePaymentMethod changes a card's expiry, billing details or metadata, as
// when a customer's bank reissues a card.
func (e *Emulator) updatePaymentMethod(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp, err := expandFor(c, kindPaymentMethod)
	if err != nil {
		return nil, err
	}
	card, err := c.p.obj("card")
	if err != nil {
		return nil, err
	}
	var month, year int64
	var hasMonth, hasYear bool
	if card != nil {
		if month, hasMonth, err = card.integer("exp_month"); err != nil {
			return nil, invalidParam("card[exp_month]", "Invalid integer.")
		}
		if year, hasYear, err = card.integer("exp_year"); err != nil {
			return nil, invalidParam("card[exp_year]", "Invalid integer.")
		}
		if hasMonth && (month < 1 || month > 12) {
			return nil, invalidParam("card[exp_month]", "Your card's expiration month is invalid.")
		}
		if hasYear && year < 100 {
			year += 2000
		}
		if hasYear && (year < int64(e.now().Year()) || year > int64(e.now().Year())+50) {
			return nil, invalidParam("card[exp_year]", "Your card's expiration year is invalid.")
		}
	}
	bd, err := c.p.obj("billing_details")
	if err != nil {
		return nil, err
	}
	var name, email string
	var hasName, hasEmail bool
	if bd != nil {
		if name, hasName, err = bd.str("name"); err != nil {
			return nil, err
		}
		if email, hasEmail, err = bd.str("email"); err != nil {
			return nil, err
		}
	}
	md, hasMD, err := c.p.metadata("metadata")
	if err != nil {
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
	before, err := e.renderLocked(kindPaymentMethod, id, nil)
	if err != nil {
		return nil, err
	}
	if hasMonth {
		pm.pm.Card.ExpMonth = month
	}
	if hasYear {
		pm.pm.Card.ExpYear = year
	}
	if hasName {
		pm.pm.BillingDetails.Name = name
	}
	if hasEmail {
		pm.pm.BillingDetails.Email = email
	}
	if hasMD {
		pm.pm.Metadata = mergeMetadata(pm.pm.Metadata, md, len(md) == 0)
	}
	after, err := e.renderLocked(kindPaymentMethod, id, nil)
	if err != nil {
		return nil, err
	}
	if prev := previousAttributes(before, after); len(prev) > 0 {
		e.emitLocked(c.reqInfo(), "payment_method.updated", kindPaymentMethod, id, prev)
	}
	return e.renderResponse(kindPaymentMethod, id, exp)
}

func (e *Emulator) listPaymentMethods(c *call) (any, error) {
	q, err := parseListQuery(c.p, kindPaymentMethod)
	if err != nil {
		return nil, err
	}
	customer, _, err := c.p.str("customer")
	if err != nil {
		return nil, err
	}
	typ, _, err := c.p.str("type")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if customer != "" && e.liveCustomerLocked(customer) == nil {
		return nil, noSuchParam("customer", customer, "customer")
	}
	return e.listLocked(q, "/v1/payment_methods", kindPaymentMethod, e.pmIDs, e.pmFilter(customer, typ))
}

package stripeemu

import (
	"maps"

	"github.com/stripe/stripe-go/v76"
)

func (e *Emulator) createCustomer(c *call) (any, error) {
	exp, err := expandFor(c, kindCustomer)
	if err != nil {
		return nil, err
	}
	cus := &stripe.Customer{
		Object:           "customer",
		Livemode:         false,
		InvoiceSettings:  &stripe.CustomerInvoiceSettings{},
		Metadata:         map[string]string{},
		PreferredLocales: []string{},
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"email", &cus.Email}, {"name", &cus.Name}, {"description", &cus.Description}, {"phone", &cus.Phone}} {
		v, _, err := c.p.str(f.key)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	if md, ok, err := c.p.metadata("metadata"); err != nil {
		return nil, err
	} else if ok {
		cus.Metadata = md
	}
	if pm, ok, err := c.p.str("payment_method"); err != nil {
		return nil, err
	} else if ok && pm != "" {
		return nil, invalidParam("payment_method", "The emulator does not attach a payment method at customer creation; attach it with /v1/payment_methods/{id}/attach.")
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	cus.ID = newID("cus_")
	cus.Created = e.now().Unix()
	cus.InvoicePrefix = randomString(8)
	e.customers[cus.ID] = cus
	e.customerIDs = append(e.customerIDs, cus.ID)
	e.emitLocked(c.reqInfo(), "customer.created", kindCustomer, cus.ID, nil)
	return e.renderResponse(kindCustomer, cus.ID, exp)
}

// liveCustomerLocked returns a customer that exists and is not deleted.
func (e *Emulator) liveCustomerLocked(id string) *stripe.Customer {
	cus := e.customers[id]
	if cus == nil || cus.Deleted {
		return nil
	}
	return cus
}

func (e *Emulator) updateCustomer(c *call) (any, error) {
	id := c.r.PathValue("id")
	exp, err := expandFor(c, kindCustomer)
	if err != nil {
		return nil, err
	}
	md, hasMD, err := c.p.metadata("metadata")
	if err != nil {
		return nil, err
	}
	inv, err := c.p.obj("invoice_settings")
	if err != nil {
		return nil, err
	}
	var defaultPM *string
	if inv != nil {
		v, ok, err := inv.str("default_payment_method")
		if err != nil {
			return nil, invalidParam("invoice_settings[default_payment_method]", "Invalid string.")
		}
		if ok {
			defaultPM = &v
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	cus := e.liveCustomerLocked(id)
	if cus == nil {
		return nil, notFound(kindCustomer, id)
	}
	before, err := e.renderLocked(kindCustomer, id, nil)
	if err != nil {
		return nil, err
	}
	if defaultPM != nil && *defaultPM != "" {
		pm := e.paymentMethods[*defaultPM]
		if pm == nil {
			return nil, noSuchParam("PaymentMethod", *defaultPM, "invoice_settings[default_payment_method]")
		}
		if pm.pm.Customer == nil || pm.pm.Customer.ID != id {
			return nil, invalidParam("invoice_settings[default_payment_method]",
				"The customer does not have a payment method with the ID "+*defaultPM+". The payment method must be attached to the customer.")
		}
	}

	// Validate everything before changing anything, so a 400 changes nothing.
	for _, key := range []string{"email", "name", "description", "phone"} {
		if _, _, err := c.p.str(key); err != nil {
			return nil, err
		}
	}
	if v, ok, _ := c.p.str("email"); ok {
		cus.Email = v
	}
	if v, ok, _ := c.p.str("name"); ok {
		cus.Name = v
	}
	if v, ok, _ := c.p.str("description"); ok {
		cus.Description = v
	}
	if v, ok, _ := c.p.str("phone"); ok {
		cus.Phone = v
	}
	if hasMD {
		cus.Metadata = mergeMetadata(cus.Metadata, md, len(md) == 0)
	}
	if defaultPM != nil {
		if *defaultPM == "" {
			cus.InvoiceSettings.DefaultPaymentMethod = nil
		} else {
			cus.InvoiceSettings.DefaultPaymentMethod = &stripe.PaymentMethod{ID: *defaultPM}
		}
	}
	after, err := e.renderLocked(kindCustomer, id, nil)
	if err != nil {
		return nil, err
	}
	if prev := previousAttributes(before, after); len(prev) > 0 {
		e.emitLocked(c.reqInfo(), "customer.updated", kindCustomer, id, prev)
	}
	return e.renderResponse(kindCustomer, id, exp)
}

// mergeMetadata applies a metadata update as Stripe does: keys set to "" are
// removed, others set; an empty hash (metadata="") clears everything.
func mergeMetadata(cur, upd map[string]string, clear bool) map[string]string {
	if clear {
		return map[string]string{}
	}
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range upd {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// previousAttributes is the top-level fields of before that differ in after,
// as in data.previous_attributes of *.updated events.
func previousAttributes(before, after map[string]any) map[string]any {
	prev := map[string]any{}
	for k, v := range before {
		if !jsonEqual(v, after[k]) {
			prev[k] = v
		}
	}
	return prev
}

func (e *Emulator) deleteCustomer(c *call) (any, error) {
	id := c.r.PathValue("id")
	e.mu.Lock()
	defer e.mu.Unlock()
	cus := e.liveCustomerLocked(id)
	if cus == nil {
		return nil, notFound(kindCustomer, id)
	}
	// The event carries the customer as it was, as Stripe's customer.deleted does.
	e.emitLocked(c.reqInfo(), "customer.deleted", kindCustomer, id, nil)
	cus.Deleted = true
	// Stripe detaches a deleted customer's payment methods.
	for _, pm := range e.paymentMethods {
		if pm.pm.Customer != nil && pm.pm.Customer.ID == id {
			pm.pm.Customer = nil
			pm.detached = true
		}
	}
	return map[string]any{"id": id, "object": "customer", "deleted": true}, nil
}

func (e *Emulator) listCustomers(c *call) (any, error) {
	q, err := parseListQuery(c.p, kindCustomer)
	if err != nil {
		return nil, err
	}
	email, hasEmail, err := c.p.str("email")
	if err != nil {
		return nil, err
	}
	if hasEmail && len(email) > 512 {
		return nil, invalidParam("email", "Invalid email: too long.")
	}
	created, err := parseCreated(c.p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listLocked(q, "/v1/customers", kindCustomer, e.customerIDs, func(id string) bool {
		cus := e.customers[id]
		return !cus.Deleted && (!hasEmail || cus.Email == email) && created.match(cus.Created)
	})
}

func (e *Emulator) listCustomerPaymentMethods(c *call) (any, error) {
	id := c.r.PathValue("id")
	q, err := parseListQuery(c.p, kindPaymentMethod)
	if err != nil {
		return nil, err
	}
	typ, _, err := c.p.str("type")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.liveCustomerLocked(id) == nil {
		return nil, notFound(kindCustomer, id)
	}
	return e.listLocked(q, "/v1/customers/"+id+"/payment_methods", kindPaymentMethod, e.pmIDs, e.pmFilter(id, typ))
}

func (e *Emulator) pmFilter(customer, typ string) func(string) bool {
	return func(id string) bool {
		pm := e.paymentMethods[id].pm
		if customer != "" && (pm.Customer == nil || pm.Customer.ID != customer) {
			return false
		}
		return typ == "" || string(pm.Type) == typ
	}
}

package stripeemu

import (
	"maps"
	"reflect"

	"github.com/stripe/stripe-go/v76"
)

func (e *Emulator) createCustomer(c *call) (any, error) {
	exp := parseExpand(c.p, kindCustomer, false)
	cus := &stripe.Customer{
		Object:           "customer",
		Email:            c.p.str("email"),
		Name:             c.p.str("name"),
		InvoiceSettings:  &stripe.CustomerInvoiceSettings{},
		Metadata:         orEmpty(c.p.metadata("metadata")),
		PreferredLocales: []string{},
	}
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cus.ID = newID("cus_")
	cus.Created = e.now().Unix()
	cus.InvoicePrefix = randomString(8)
	e.customers[cus.ID] = cus
	e.customerIDs = append(e.customerIDs, cus.ID)
	e.emitLocked(c.reqInfo(), "customer.created", kindCustomer, cus.ID, nil)
	return e.renderLocked(kindCustomer, cus.ID, exp)
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
	exp := parseExpand(c.p, kindCustomer, false)
	email, hasEmail := c.p.str("email"), c.p.has("email")
	name, hasName := c.p.str("name"), c.p.has("name")
	md := c.p.metadata("metadata")
	inv := c.p.obj("invoice_settings")
	defaultPM, hasDefault := inv.str("default_payment_method"), inv.has("default_payment_method")
	if err := c.p.err(); err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	cus := e.liveCustomerLocked(id)
	if cus == nil {
		return nil, notFound(kindCustomer, id)
	}
	if defaultPM != "" {
		pm := e.paymentMethods[defaultPM]
		if pm == nil {
			return nil, noSuchParam("PaymentMethod", defaultPM, "invoice_settings[default_payment_method]")
		}
		if pm.pm.Customer == nil || pm.pm.Customer.ID != id {
			return nil, invalidParam("invoice_settings[default_payment_method]",
				"The customer does not have a payment method with the ID "+defaultPM+". The payment method must be attached to the customer.")
		}
	}
	err := e.changeLocked(c.reqInfo(), kindCustomer, id, func() {
		if hasEmail {
			cus.Email = email
		}
		if hasName {
			cus.Name = name
		}
		if md != nil {
			cus.Metadata = mergeMetadata(cus.Metadata, md)
		}
		if hasDefault {
			cus.InvoiceSettings.DefaultPaymentMethod = nil
			if defaultPM != "" {
				cus.InvoiceSettings.DefaultPaymentMethod = &stripe.PaymentMethod{ID: defaultPM}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return e.renderLocked(kindCustomer, id, exp)
}

// changeLocked applies change to an object and emits its *.updated event
// with the fields that changed, as Stripe does.
func (e *Emulator) changeLocked(ri *reqInfo, kind, id string, change func()) error {
	before, err := e.renderLocked(kind, id, nil)
	if err != nil {
		return err
	}
	change()
	after, err := e.renderLocked(kind, id, nil)
	if err != nil {
		return err
	}
	prev := map[string]any{}
	for k, v := range before {
		if !reflect.DeepEqual(v, after[k]) {
			prev[k] = v
		}
	}
	if len(prev) > 0 {
		e.emitLocked(ri, kind+".updated", kind, id, prev)
	}
	return nil
}

// mergeMetadata applies a metadata update as Stripe does: keys set to "" are
// removed, others set; an empty hash (metadata="") clears everything.
func mergeMetadata(cur, upd map[string]string) map[string]string {
	out := map[string]string{}
	if len(upd) > 0 {
		maps.Copy(out, cur)
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

func (e *Emulator) deleteCustomer(c *call) (any, error) {
	id := c.r.PathValue("id")
	if err := c.p.err(); err != nil {
		return nil, err
	}
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
	q := parseListQuery(c.p, kindCustomer)
	email, hasEmail := c.p.str("email"), c.p.has("email")
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listLocked(q, "/v1/customers", kindCustomer, e.customerIDs, func(id string) bool {
		cus := e.customers[id]
		return !cus.Deleted && (!hasEmail || cus.Email == email)
	})
}

func (e *Emulator) listCustomerPaymentMethods(c *call) (any, error) {
	id := c.r.PathValue("id")
	q := parseListQuery(c.p, kindPaymentMethod)
	c.p.oneOf("type", "card") // the only type there is
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.liveCustomerLocked(id) == nil {
		return nil, notFound(kindCustomer, id)
	}
	return e.listLocked(q, "/v1/customers/"+id+"/payment_methods", kindPaymentMethod, e.pmIDs, func(pmID string) bool {
		owner := e.paymentMethods[pmID].pm.Customer
		return owner != nil && owner.ID == id
	})
}

package stripeemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

func apiVersion() string { return stripe.APIVersion }

// Object kinds, as in each object's "object" field.
const (
	kindCustomer      = "customer"
	kindSession       = "checkout.session"
	kindSetupIntent   = "setup_intent"
	kindPaymentMethod = "payment_method"
	kindPaymentIntent = "payment_intent"
	kindCharge        = "charge"
	kindRefund        = "refund"
	kindEvent         = "event"
)

// refField is a field that holds another object: its id unless expanded.
type refField struct {
	path string // dotted, within the object
	kind string
}

// refFields lists the expandable references of each kind this emulator knows.
var refFields = map[string][]refField{
	kindCustomer:      {{"invoice_settings.default_payment_method", kindPaymentMethod}},
	kindSession:       {{"customer", kindCustomer}, {"setup_intent", kindSetupIntent}, {"payment_intent", kindPaymentIntent}},
	kindSetupIntent:   {{"customer", kindCustomer}, {"payment_method", kindPaymentMethod}},
	kindPaymentMethod: {{"customer", kindCustomer}},
	kindPaymentIntent: {{"customer", kindCustomer}, {"payment_method", kindPaymentMethod}, {"latest_charge", kindCharge}},
	kindCharge:        {{"customer", kindCustomer}, {"payment_intent", kindPaymentIntent}},
	kindRefund:        {{"charge", kindCharge}, {"payment_intent", kindPaymentIntent}},
}

// expandTree maps a ref field path to what to expand inside it.
type expandTree map[string]expandTree

// maxExpandDepth is Stripe's limit on expansion depth.
const maxExpandDepth = 4

// parseExpand reads expand[] for an object of kind; list endpoints pass
// list=true, where paths start with "data.".
func parseExpand(p *reader, kind string, list bool) expandTree {
	tree := expandTree{}
	for _, path := range p.strs("expand") {
		rest, ok := path, true
		if list {
			rest, ok = strings.CutPrefix(path, "data.")
		}
		switch {
		case !ok:
			p.fail(invalidParam("expand", fmt.Sprintf("This property cannot be expanded (%s). You may want to try expanding 'data.%s' instead.", path, path)))
		case strings.Count(rest, ".") >= maxExpandDepth:
			p.fail(invalidParam("expand", fmt.Sprintf("You cannot expand more than %d levels of a property. Property: %s", maxExpandDepth, path)))
		default:
			p.fail(addExpand(tree, kind, rest, path))
		}
	}
	return tree
}

func addExpand(tree expandTree, kind, rest, full string) error {
	for _, f := range refFields[kind] {
		if rest != f.path && !strings.HasPrefix(rest, f.path+".") {
			continue
		}
		sub := tree[f.path]
		if sub == nil {
			sub = expandTree{}
			tree[f.path] = sub
		}
		if rest == f.path {
			return nil
		}
		return addExpand(sub, f.kind, rest[len(f.path)+1:], full)
	}
	return invalidParam("expand", fmt.Sprintf("This property cannot be expanded (%s).", full))
}

// toMap turns a stripe-go object of kind into its JSON form as Stripe sends
// it. Numbers stay json.Number so int64 amounts and timestamps survive unchanged.
func toMap(v any, kind string) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("unmarshal %T: %w", v, err)
	}
	tidy(m, kind)
	return m, nil
}

// omitted are the fields Stripe leaves out where stripe-go's structs write
// null (or false): API version 2023-10-16 lets them be absent but not null
// (each payment method type's details, lists sent only when expanded), or
// they came in a later version. "parent.field" is a field under one key (or
// at the top of one kind of object), "parent.*" every field under that key;
// references are nulled again by collapseRef.
var omitted = strings.Fields(`payment_method.* payment_method_details.* payment_method_options.* next_action.*
	line_items redirect_on_completion return_url tax_id_collection breakdown liability
	invoice_credit_balance sources subscriptions tax customer.tax_ids customer.deleted amount_details source
	radar_options transfer authorization_code level3 rule card.description iin issuer display_brand moto
	extended_authorization incremental_authorization multicapture overcapture refund.description destination_details
	refund.failure_balance_transaction failure_reason instructions_email refund.next_action account previous_attributes`)

func omit(field string) bool { return slices.Contains(omitted, field) }

// tidy turns "" into null throughout, as Stripe sends unset strings (which
// stripe-go cannot tell from empty ones), and leaves out the omitted fields;
// parent is the key v is under, or its kind at the top.
func tidy(v any, parent string) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == "" {
				t[k], e = nil, nil
			}
			named := omit(k) || omit(parent+"."+k)
			if e == nil && (named || omit(parent+".*")) || e == false && named {
				delete(t, k)
			}
			tidy(e, k)
		}
	case []any:
		for _, e := range t {
			tidy(e, parent)
		}
	}
}

// renderLocked returns the JSON form of one object as Stripe would send it:
// references collapsed to ids except those named in exp. Callers hold e.mu.
func (e *Emulator) renderLocked(kind, id string, exp expandTree) (map[string]any, error) {
	var obj any
	switch kind {
	case kindCustomer:
		c := e.customers[id]
		if c == nil {
			return nil, fmt.Errorf("render customer %s: %w", id, ErrNotFound)
		}
		if c.Deleted {
			return map[string]any{"id": c.ID, "object": "customer", "deleted": true}, nil
		}
		obj = c
	case kindSession:
		s := e.sessions[id]
		if s == nil {
			return nil, fmt.Errorf("render session %s: %w", id, ErrNotFound)
		}
		obj = s.s
	case kindSetupIntent:
		obj = e.setupIntents[id]
	case kindPaymentMethod:
		if pm := e.paymentMethods[id]; pm != nil {
			obj = pm.pm
		}
	case kindPaymentIntent:
		obj = e.paymentIntents[id]
	case kindCharge:
		obj = e.charges[id]
	case kindRefund:
		obj = e.refunds[id]
	case kindEvent:
		obj = e.events[id]
	}
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return nil, fmt.Errorf("render %s %s: %w", kind, id, ErrNotFound)
	}
	m, err := toMap(obj, kind)
	if err != nil {
		return nil, err
	}
	for _, f := range refFields[kind] {
		if err := e.collapseRef(m, f, exp); err != nil {
			return nil, err
		}
	}
	switch kind {
	case kindSession:
		if m["mode"] == "setup" {
			// Setup mode has no amounts: Stripe sends null, not 0.
			m["amount_total"], m["amount_subtotal"] = nil, nil
		}
	case kindPaymentIntent:
		e.embedErrorPaymentMethodLocked(m, "last_payment_error")
	case kindSetupIntent:
		e.embedErrorPaymentMethodLocked(m, "last_setup_error")
	}
	return m, nil
}

// embedErrorPaymentMethodLocked replaces the payment method reference inside
// an intent's last error by the full object, as Stripe sends it there.
func (e *Emulator) embedErrorPaymentMethodLocked(m map[string]any, key string) {
	lerr, ok := m[key].(map[string]any)
	if !ok {
		return
	}
	ref, ok := lerr["payment_method"].(map[string]any)
	if !ok {
		return
	}
	if pmID, _ := ref["id"].(string); pmID != "" {
		if pm, err := e.renderLocked(kindPaymentMethod, pmID, nil); err == nil {
			lerr["payment_method"] = pm
		}
	}
}

// collapseRef replaces the reference at f.path by its id, or by the rendered
// object when expanded.
func (e *Emulator) collapseRef(m map[string]any, f refField, exp expandTree) error {
	parts := strings.Split(f.path, ".")
	parent := m
	for _, p := range parts[:len(parts)-1] {
		next, ok := parent[p].(map[string]any)
		if !ok {
			return nil
		}
		parent = next
	}
	leaf := parts[len(parts)-1]
	ref, _ := parent[leaf].(map[string]any)
	id, _ := ref["id"].(string)
	if id == "" {
		// Stripe sends every unset reference as null.
		parent[leaf] = nil
		return nil
	}
	sub, expand := exp[f.path]
	if !expand {
		parent[leaf] = id
		return nil
	}
	obj, err := e.renderLocked(f.kind, id, sub)
	if err != nil {
		// A dangling reference stays an id rather than failing the request.
		parent[leaf] = id
		return nil
	}
	parent[leaf] = obj
	return nil
}

// listQuery is a parsed list request: page size, cursor and expansions.
type listQuery struct {
	limit         int
	startingAfter string
	expand        expandTree
}

func parseListQuery(p *reader, kind string) listQuery {
	q := listQuery{limit: 10, startingAfter: p.str("starting_after"), expand: parseExpand(p, kind, true)}
	if p.has("limit") {
		q.limit = int(p.int("limit"))
		p.check(q.limit < 1 || q.limit > 100, invalidParam("limit", fmt.Sprintf("Invalid integer: %d. This value must be between 1 and 100.", q.limit)))
	}
	return q
}

// listLocked pages through ids (oldest first, as stored) newest first, keeping
// those for which keep returns true, and renders a Stripe list object.
func (e *Emulator) listLocked(q listQuery, url, kind string, ids []string, keep func(id string) bool) (map[string]any, error) {
	newest := slices.Clone(ids)
	slices.Reverse(newest)

	from := 0
	if q.startingAfter != "" {
		pos := slices.Index(newest, q.startingAfter)
		if pos < 0 {
			return nil, invalidParam("starting_after", fmt.Sprintf("No such %s: '%s'", strings.ReplaceAll(kind, "_", ""), q.startingAfter))
		}
		from = pos + 1
	}
	var page []string
	hasMore := false
	for _, id := range newest[from:] {
		if !keep(id) {
			continue
		}
		if len(page) == q.limit {
			hasMore = true
			break
		}
		page = append(page, id)
	}
	data := make([]any, 0, len(page))
	for _, id := range page {
		obj, err := e.renderLocked(kind, id, q.expand)
		if err != nil {
			return nil, err
		}
		data = append(data, obj)
	}
	return map[string]any{"object": "list", "data": data, "has_more": hasMore, "url": url}, nil
}

// createdRange is a filter on "created": an exact value or gt/gte/lt/lte,
// kept as inclusive bounds.
type createdRange struct{ lo, hi int64 }

func parseCreated(p *reader) createdRange {
	r := createdRange{lo: math.MinInt64, hi: math.MaxInt64}
	if _, exact := p.p["created"].(string); exact {
		r.lo = p.int("created")
		r.hi = r.lo
		return r
	}
	c := p.obj("created")
	if c.has("gt") {
		r.lo = c.int("gt") + 1
	}
	if c.has("gte") {
		r.lo = max(r.lo, c.int("gte"))
	}
	if c.has("lt") {
		r.hi = c.int("lt") - 1
	}
	if c.has("lte") {
		r.hi = min(r.hi, c.int("lte"))
	}
	return r
}

func (r createdRange) match(t int64) bool { return t >= r.lo && t <= r.hi }

// notFound maps a missing object to Stripe's 404.
func notFound(kind, id string) *apiError {
	if kind == kindPaymentMethod {
		kind = "PaymentMethod" // Stripe's spelling in this one message
	}
	return noSuch(kind, id, "id")
}

// retrieve is the GET /v1/{objects}/{id} handler of a kind: the object,
// expanded as asked, or Stripe's resource_missing error.
func (e *Emulator) retrieve(kind string, existsLocked func(id string) bool) route {
	return func(c *call) (any, error) {
		id := c.r.PathValue("id")
		exp := parseExpand(c.p, kind, false)
		if err := c.p.err(); err != nil {
			return nil, err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if !existsLocked(id) {
			return nil, notFound(kind, id)
		}
		return e.renderLocked(kind, id, exp)
	}
}

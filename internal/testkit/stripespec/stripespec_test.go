package stripespec_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// customer is a customer as Stripe's own fixture for 2023-10-16 has it.
const customer = `{"id": "cus_1", "object": "customer", "address": null, "balance": 0, "created": 1234567890,
	"currency": "usd", "default_source": null, "delinquent": false, "description": null, "discount": null,
	"email": null, "invoice_prefix": "B4749BD", "invoice_settings": {"custom_fields": null,
	"default_payment_method": null, "footer": null, "rendering_options": null}, "livemode": false,
	"metadata": {}, "name": null, "next_invoice_sequence": 1, "phone": null, "preferred_locales": [],
	"shipping": null, "tax_exempt": "none", "test_clock": null}`

func event(object string) string {
	return `{"id": "evt_1", "object": "event", "api_version": "2023-10-16", "created": 1234567890,
		"data": {"object": ` + object + `}, "livemode": false, "pending_webhooks": 0,
		"request": {"id": null, "idempotency_key": null}, "type": "customer.created"}`
}

func TestCheck(t *testing.T) {
	s := stripespec.Load(t)
	if s == nil {
		t.Skip("no spec to check against")
	}
	cases := map[string]struct {
		method, path string
		status       int
		body         string
		wantErr      string // "" for an answer as Stripe gives it
	}{
		"customer": {"GET", "/v1/customers/cus_1", 200, customer, ""},
		"deleted customer": {"DELETE", "/v1/customers/cus_1", 200,
			`{"id": "cus_1", "object": "customer", "deleted": true}`, ""},
		"error": {"GET", "/v1/customers/cus_2", 404,
			`{"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "id", "message": "No such customer: 'cus_2'"}}`, ""},
		"null for a field Stripe leaves out": {"GET", "/v1/customers/cus_1", 200,
			strings.Replace(customer, `"phone": null`, `"phone": null, "tax_ids": null`, 1), "tax_ids"},
		"field of a later API version": {"GET", "/v1/customers/cus_1", 200,
			strings.Replace(customer, `"phone": null`, `"phone": null, "deleted": false`, 1), "deleted"},
		"required field missing": {"GET", "/v1/customers/cus_1", 200,
			strings.Replace(customer, `"created": 1234567890,`, "", 1), "created"},
		"error in the shape of an object": {"GET", "/v1/customers/cus_2", 404, customer, "error"},
		"endpoint Stripe does not have":   {"GET", "/v1/nothing", 200, `{}`, "not in the spec"},
		"event list": {"GET", "/v1/events", 200,
			`{"object": "list", "url": "/v1/events", "has_more": false, "data": [` + event(customer) + `]}`, ""},
		"event whose object is not as Stripe's": {"GET", "/v1/events/evt_1", 200,
			event(strings.Replace(customer, `"metadata": {}`, `"metadata": null`, 1)), "data.object"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := s.Check(c.method, c.path, c.status, []byte(c.body))
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("unexpected failure: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("got %v, want a failure naming %q", err, c.wantErr)
			}
		})
	}
}

// recordingT is a test whose failures and cleanups are kept, not acted on.
type recordingT struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recordingT) Helper()                   {}
func (r *recordingT) Logf(string, ...any)       {}
func (r *recordingT) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recordingT) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }

// TestCheckedFailsTheTestAtItsEnd serves a good and a bad answer through
// Checked and a bad event through Webhooks: once the test ends, each bad
// one fails it, and the good one does not.
func TestCheckedFailsTheTestAtItsEnd(t *testing.T) {
	if stripespec.Load(t) == nil {
		t.Skip("no spec to check against")
	}
	rt := &recordingT{TB: t}
	api := httptest.NewServer(stripespec.Checked(rt, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/customers/cus_bad" {
			w.Write([]byte(strings.Replace(customer, `"livemode": false`, `"livemode": null`, 1))) //nolint:errcheck
			return
		}
		w.Write([]byte(customer)) //nolint:errcheck
	})))
	defer api.Close()
	hooks := httptest.NewServer(stripespec.Webhooks(rt, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer hooks.Close()
	for _, id := range []string{"cus_1", "cus_bad"} {
		res, err := http.Get(api.URL + "/v1/customers/" + id)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	res, err := http.Post(hooks.URL, "application/json", strings.NewReader(event(strings.Replace(customer, `"id": "cus_1", `, "", 1))))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(rt.errors) != 0 {
		t.Fatalf("failed before the test ended: %q", rt.errors)
	}
	for _, f := range rt.cleanups {
		f()
	}
	if len(rt.errors) != 2 || !strings.Contains(rt.errors[0], "/livemode") || !strings.Contains(rt.errors[1], `property "id" is missing`) {
		t.Errorf("failures: %q, want one for the answer's livemode and one for the event's missing id", rt.errors)
	}
}

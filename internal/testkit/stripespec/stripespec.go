// Package stripespec checks answers of a Stripe API against Stripe's own
// OpenAPI spec for API version 2023-10-16, the version stripe-go v76 speaks.
// stripe-mock v0.180.0 ships that spec, so the spec comes from its module.
//
// Tests wrap the emulator's handler with Checked; every /v1/ answer is then
// checked when the test ends. The check is stricter than the spec in one
// way: an object may hold only the properties the spec lists, so a field of
// a later API version (or a stray null stripe-go adds) fails.
package stripespec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Module is the stripe-mock release whose embedded spec is API version 2023-10-16.
const Module = "github.com/stripe/stripe-mock@v0.180.0"

// specPath is the spec's place inside Module.
const specPath = "embedded/openapi/spec3.json"

// Spec is Stripe's API description, ready to check answers.
type Spec struct {
	doc    *openapi3.T
	router routers.Router
}

// load reads the spec once per test binary: it is 5 MB of JSON.
var load = sync.OnceValues(func() (*Spec, error) {
	out, err := exec.Command("go", "mod", "download", "-json", Module).Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s: %w: %s", Module, err, out)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: no directory in %s", Module, out)
	}
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(mod.Dir, specPath))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", specPath, err)
	}
	if v := doc.Info.Version; v != "2023-10-16" {
		return nil, fmt.Errorf("%s describes API version %s, want 2023-10-16", Module, v)
	}
	closeObjects(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", specPath, err)
	}
	return &Spec{doc: doc, router: router}, nil
})

// Load returns the spec, or nil where it cannot be had: without the
// module's files and no network, tests still run, unchecked. In CI (CI=true)
// every answer must be checked, so there a missing spec fails the test.
func Load(t testing.TB) *Spec {
	t.Helper()
	s, err := load()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Stripe's OpenAPI spec: %v", err)
		}
		t.Logf("stripespec: nothing checked against Stripe's spec: %v (CI=true makes this a failure)", err)
	}
	return s
}

// closeObjects forbids properties the spec does not list, on every object
// schema that lists some and says nothing of others.
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		for _, group := range []openapi3.SchemaRefs{s.AnyOf, s.OneOf, s.AllOf} {
			for _, sub := range group {
				walk(sub)
			}
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, res := range op.Responses.Map() {
				if res.Value == nil {
					continue
				}
				for _, mt := range res.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

// Check reports how one answer of the API differs from the spec: the body of
// the operation's response for status (an error body for a 4xx or 5xx), and
// the data.object of each event in it against the schema its "object" names.
func (s *Spec) Check(method, path string, status int, body []byte) error {
	u := &url.URL{Scheme: "https", Host: "api.stripe.com", Path: path}
	req := (&http.Request{Method: method, URL: u, Host: u.Host, Header: http.Header{}}).WithContext(context.Background())
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if status < 400 {
			return fmt.Errorf("%s %s: not in the spec: %w", method, path, err)
		}
		// Stripe answers a path or method it does not have with its error.
		return s.checkBody(method, path, status, body, "error")
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 http.Header{"Content-Type": {"application/json"}},
		// Short failures: the path and what is wrong there, not the whole schema and value.
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}},
	}
	in.SetBodyBytes(body)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s: %d: %w", method, path, status, err)
	}
	var errs []error
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		errs = append(errs, err)
		// Where the answer may be one of two (a customer or a deleted one),
		// only the object's own schema says what is wrong with it.
		if m, ok := v.(map[string]any); ok && m["deleted"] != true {
			if kind, _ := m["object"].(string); s.doc.Components.Schemas[kind] != nil {
				errs = append(errs, s.visit(kind, m))
			}
		}
	}
	for _, ev := range events(v) {
		errs = append(errs, s.checkEventObject(ev))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s %s: %d: %w", method, path, status, err)
	}
	return nil
}

// events finds the events in an answer: the answer itself or a list's data.
func events(v any) []map[string]any {
	m, _ := v.(map[string]any)
	switch m["object"] {
	case "event":
		return []map[string]any{m}
	case "list":
		var out []map[string]any
		data, _ := m["data"].([]any)
		for _, d := range data {
			if ev, ok := d.(map[string]any); ok && ev["object"] == "event" {
				out = append(out, ev)
			}
		}
		return out
	}
	return nil
}

// CheckEvent reports how an event, as posted to a webhook endpoint, differs
// from the spec.
func (s *Spec) CheckEvent(body []byte) error {
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if err := s.visit("event", ev); err != nil {
		return fmt.Errorf("event %v (%v): %w", ev["id"], ev["type"], err)
	}
	return s.checkEventObject(ev)
}

// checkEventObject checks an event's data.object, which the spec leaves open,
// against the schema of its kind ("payment_intent", "checkout.session", ...).
func (s *Spec) checkEventObject(ev map[string]any) error {
	data, _ := ev["data"].(map[string]any)
	obj, _ := data["object"].(map[string]any)
	kind, _ := obj["object"].(string)
	if err := s.visit(kind, obj); err != nil {
		return fmt.Errorf("event %v (%v): data.object: %w", ev["id"], ev["type"], err)
	}
	return nil
}

// checkBody checks an answer's body against the schema of that name.
func (s *Spec) checkBody(method, path string, status int, body []byte, schema string) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s: %d: %w", method, path, status, err)
	}
	if err := s.visit(schema, v); err != nil {
		return fmt.Errorf("%s %s: %d: %w", method, path, status, err)
	}
	return nil
}

// visit checks v against the schema of that name.
func (s *Spec) visit(schema string, v any) error {
	ref := s.doc.Components.Schemas[schema]
	if ref == nil {
		return fmt.Errorf("no schema %q in the spec", schema)
	}
	return ref.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse(), openapi3.DisableSchemaErrorDetails())
}

// Checked wraps an API handler so that every answer under /v1/ is checked
// against the spec when t ends (after servers registered later are closed).
func Checked(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	s, add := collect(t, "answer")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		method, path, status, body := r.Method, r.URL.Path, rec.status, rec.body.Bytes()
		add(body, func() error { return s.Check(method, path, status, body) })
	})
}

// Webhooks wraps a webhook endpoint so that every event posted to it is
// checked against the spec when t ends, data.object included.
func Webhooks(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	s, add := collect(t, "event")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		add(body, func() error { return s.CheckEvent(body) })
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

// collect gathers checks to run when t ends, so that checking never slows
// an answer down, and reports each failure with the body it concerns.
func collect(t testing.TB, what string) (*Spec, func(body []byte, check func() error)) {
	t.Helper()
	s := Load(t)
	if s == nil {
		return nil, func([]byte, func() error) {} // nothing to check against
	}
	type item struct {
		body  []byte
		check func() error
	}
	var (
		mu    sync.Mutex
		items []item
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			if err := it.check(); err != nil {
				t.Errorf("%s not as Stripe's spec says: %v\n%s", what, err, it.body)
			}
		}
		t.Logf("stripespec: %d %ss checked against Stripe's spec", len(items), what)
	})
	return s, func(body []byte, check func() error) {
		mu.Lock()
		defer mu.Unlock()
		items = append(items, item{body, check})
	}
}

// recorder passes an answer through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

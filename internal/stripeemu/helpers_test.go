package stripeemu_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"
)

const testSecret = "whsec_test_secret_for_emulator"

// env is one emulator behind a real HTTP server, with a stripe-go client.
type env struct {
	t   *testing.T
	emu *stripeemu.Emulator
	srv *httptest.Server
	sc  *client.API
}

func newEnv(t *testing.T, opts stripeemu.Options) *env {
	t.Helper()
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = testSecret
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 10 * time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 100 * time.Millisecond
	}
	emu := stripeemu.New(opts)
	srv := httptest.NewServer(stripespec.Checked(t, emu.Handler()))
	emu.SetPublicURL(srv.URL)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
	})
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(srv.URL),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		MaxNetworkRetries: stripe.Int64(0),
	})
	sc := client.New("sk_test_123", &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	return &env{t: t, emu: emu, srv: srv, sc: sc}
}

func (e *env) customer(email string) *stripe.Customer {
	e.t.Helper()
	c, err := e.sc.Customers.New(&stripe.CustomerParams{Email: stripe.String(email)})
	if err != nil {
		e.t.Fatalf("create customer: %v", err)
	}
	return c
}

// setupSession creates a setup-mode session as the store does.
func (e *env) setupSession(customerID string) *stripe.CheckoutSession {
	e.t.Helper()
	p := &stripe.CheckoutSessionParams{
		Mode:       stripe.String("setup"),
		Currency:   stripe.String("usd"),
		SuccessURL: stripe.String("https://shop.example/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:  stripe.String("https://shop.example/cancel"),
	}
	if customerID != "" {
		p.Customer = stripe.String(customerID)
	}
	s, err := e.sc.CheckoutSessions.New(p)
	if err != nil {
		e.t.Fatalf("create setup session: %v", err)
	}
	return s
}

// paymentSession creates a payment-mode session that saves the card.
func (e *env) paymentSession(customerID string, amount int64, currency string) *stripe.CheckoutSession {
	e.t.Helper()
	p := &stripe.CheckoutSessionParams{
		Mode:       stripe.String("payment"),
		SuccessURL: stripe.String("https://shop.example/paid?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:  stripe.String("https://shop.example/cancel"),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripe.String(currency),
				UnitAmount:  stripe.Int64(amount),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripe.String("Order")},
			},
			Quantity: stripe.Int64(1),
		}},
		PaymentIntentData: &stripe.CheckoutSessionPaymentIntentDataParams{SetupFutureUsage: stripe.String("off_session")},
	}
	if customerID != "" {
		p.Customer = stripe.String(customerID)
	}
	s, err := e.sc.CheckoutSessions.New(p)
	if err != nil {
		e.t.Fatalf("create payment session: %v", err)
	}
	return s
}

// chargeOffSession charges a saved card as the store's admin does.
func (e *env) chargeOffSession(customerID, pmID string, amount int64) (*stripe.PaymentIntent, error) {
	return e.sc.PaymentIntents.New(&stripe.PaymentIntentParams{
		Amount:        stripe.Int64(amount),
		Currency:      stripe.String("usd"),
		Customer:      stripe.String(customerID),
		PaymentMethod: stripe.String(pmID),
		OffSession:    stripe.Bool(true),
		Confirm:       stripe.Bool(true),
		// Cards only, as the store sends it: see TestOffSessionPaymentMethodTypes.
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
	})
}

// eventTypes lists the types of all events so far, oldest first.
func (e *env) eventTypes() []string {
	e.t.Helper()
	var types []string
	it := e.sc.Events.List(&stripe.EventListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(100)}})
	for it.Next() {
		types = append(types, string(it.Event().Type))
	}
	if err := it.Err(); err != nil {
		e.t.Fatalf("list events: %v", err)
	}
	slices.Reverse(types) // the API lists newest first
	return types
}

// do sends a raw API request and decodes the JSON answer.
func (e *env) do(method, path, body string, hdr map[string]string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_123")
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, raw)
	}
	return res.StatusCode, res.Header, m
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// inOrder reports whether want appears in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// browser drives the hosted page with plain HTTP form posts.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{
		Jar: jar,
		// Stop at the redirect to the store so the test can look at it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
}

type page struct {
	status   int
	body     string
	location string
}

func (b *browser) get(u string) page {
	b.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return readPage(b.t, res)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	res, err := b.c.PostForm(u, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return readPage(b.t, res)
}

func readPage(t *testing.T, res *http.Response) page {
	t.Helper()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: res.StatusCode, body: string(body), location: res.Header.Get("Location")}
}

var authTokenRE = regexp.MustCompile(`name="auth_token" value="([^"]+)"`)

// payOnPage fills the form; for a 3-D Secure card it then presses the
// authentication button named by action ("complete" or "fail").
func (b *browser) payOnPage(sessionURL string, card stripeemu.Card, action string) page {
	b.t.Helper()
	p := b.get(sessionURL)
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="cardNumber"`) {
		b.t.Fatalf("checkout page: status %d\n%s", p.status, p.body)
	}
	p = b.post(sessionURL, url.Values{
		"email": {card.Email}, "cardNumber": {card.Number}, "cardExpiry": {card.Expiry},
		"cardCvc": {card.CVC}, "billingName": {card.Name},
	})
	if !strings.Contains(p.body, "Complete authentication") {
		return p
	}
	if strings.Contains(p.body, strings.ReplaceAll(card.Number, " ", "")) {
		b.t.Fatalf("the authentication page echoes the card number")
	}
	m := authTokenRE.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no auth token on the 3-D Secure page:\n%s", p.body)
	}
	return b.post(sessionURL, url.Values{"auth_token": {m[1]}, "auth_action": {action}})
}

// hookReceiver is a webhook endpoint that verifies signatures with stripe-go.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []stripe.Event
	bad int
	// status decides the answer per delivered event; nil means 200.
	status func(ev stripe.Event) int
}

func newHookReceiver(t *testing.T, status func(stripe.Event) int) *hookReceiver {
	h := &hookReceiver{status: status}
	h.srv = httptest.NewServer(stripespec.Webhooks(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := webhook.ConstructEvent(body, r.Header.Get("Stripe-Signature"), testSecret)
		if err != nil || r.Header.Get("User-Agent") != "Stripe/1.0 (+https://stripe.com/docs/webhooks)" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			h.mu.Lock()
			h.bad++
			h.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := http.StatusOK
		if h.status != nil {
			code = h.status(ev)
		}
		h.mu.Lock()
		h.got = append(h.got, ev)
		h.mu.Unlock()
		w.WriteHeader(code)
	})))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) events() []stripe.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]stripe.Event(nil), h.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stripeErr unwraps a *stripe.Error.
func stripeErr(t *testing.T, err error) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *stripe.Error", err, err)
	}
	return se
}

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

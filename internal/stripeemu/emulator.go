// Package stripeemu is a local emulator of the part of Stripe's API
// that a "save a card with Checkout in setup mode, charge it later off-session"
// store uses: customers, checkout sessions (setup and payment mode) with their
// hosted page, setup intents, payment methods, payment intents, refunds and events, with
// signed webhook deliveries. It lets the store and its tests run with no network
// and no Stripe keys. Responses are stripe-go v76 types marshalled to JSON, so
// stripe-go parses them exactly as it parses Stripe's.
//
// Routes: the API under /v1/ (Bearer sk_test_... or sk_live_..., form-encoded
// params with bracketed keys, expand[], Idempotency-Key, Stripe-shaped errors,
// parameter_unknown for a parameter an endpoint does not take; only the calls
// the store and its tests make) and the hosted Checkout page at GET/POST
// /c/pay/{session id}; session.url is PublicURL + "/c/pay/" + id. The page
// posts to its own URL, so the handler also works mounted under a prefix.
//
// Behaviour worth knowing:
//   - Test cards follow DESIGN.md's table; any other Luhn-valid number
//     behaves like 4242 4242 4242 4242.
//   - A setup session's SetupIntent is created with the session, as on
//     Stripe; a payment session's PaymentIntent at the first card attempt
//     (Stripe creates those lazily too).
//   - Sessions past expires_at (on Options.Now's clock) turn expired and emit
//     checkout.session.expired by themselves, from a sweep every
//     SessionSweep, or sooner when read.
//   - Each event is delivered by its own goroutine, so deliveries are not
//     ordered, as on Stripe.
//   - State lives in memory, and with Options.State it is also saved before
//     each answer (see StateStore) and loaded by Restore.
//   - With Options.RateLimit, API requests over it get Stripe's 429
//     rate_limit, with Stripe-Should-Retry: true, and are not kept.
//
// Typical test use:
//
//	emu := stripeemu.New(stripeemu.Options{WebhookURL: hookURL, WebhookSecret: "whsec_x"})
//	srv := httptest.NewServer(emu.Handler())
//	emu.SetPublicURL(srv.URL)
//	defer srv.Close()
//	defer emu.Close()
package stripeemu

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// Options configures an Emulator. The zero value works: no webhook delivery,
// session URLs relative until SetPublicURL is called.
type Options struct {
	// SecretKey, when set, is the only API key accepted; otherwise any test
	// or live secret key is. An emulator reachable by others needs one.
	SecretKey string
	// PublicURL is the base URL at which the emulator is reachable, e.g.
	// "http://127.0.0.1:12111"; session.url is PublicURL + "/c/pay/" + id. It can
	// be set later with SetPublicURL once a listener's address is known.
	PublicURL string
	// WebhookURL is where events are POSTed; empty means no delivery.
	WebhookURL string
	// WebhookSecret ("whsec_...") signs deliveries as Stripe does.
	WebhookSecret string
	// EnabledEvents, when not nil, are the event types the endpoint takes,
	// as a Stripe endpoint's enabled_events; others are listed, not sent.
	EnabledEvents []string
	// RetryBase is the first retry delay (default 5 minutes), doubled per attempt
	// and capped at RetryMax (default 12h): Stripe's shape, hours apart for ~3 days.
	RetryBase time.Duration
	// RetryMax caps the delay between delivery attempts.
	RetryMax time.Duration
	// DeliveryDelay holds each event's first delivery attempt back this long
	// (default none), so tests can act between an event and its delivery.
	DeliveryDelay time.Duration
	// MaxAttempts is how many times one event is tried (default 13, ~69h).
	MaxAttempts int
	// DeliveryTimeout bounds one delivery attempt (default 10s).
	DeliveryTimeout time.Duration
	// MaxConcurrentDeliveries bounds simultaneous webhook requests (default 16).
	MaxConcurrentDeliveries int
	// Logger receives the emulator's logs; default discards them.
	Logger *slog.Logger
	// HTTPClient sends deliveries; default is a client with DeliveryTimeout.
	HTTPClient *http.Client
	// MerchantName is shown on the hosted checkout page (default "Storefront").
	MerchantName string
	// Now is the clock (default time.Now); tests move it to expire sessions.
	Now func() time.Time
	// SessionSweep is how often sessions past expires_at expire (default 30s).
	SessionSweep time.Duration
	// State, when set, keeps the state across restarts: call Restore before
	// serving; every request that may change the state saves it before
	// answering. Nil keeps everything in memory only.
	State StateStore
	// RateLimit, when above zero, is how many API requests a second the
	// account takes, as Stripe's rate limiter (100 live, 25 in test mode):
	// a request over it is answered 429 rate_limit. Zero: no limit.
	RateLimit float64
}

// Emulator is one emulated Stripe account. All state lives in it; it is safe for
// concurrent use.
type Emulator struct {
	opts   Options
	log    *slog.Logger
	client *http.Client
	pages  *template.Template

	mu             sync.Mutex
	publicURL      string
	webhookURL     string
	closed         bool
	customers      map[string]*stripe.Customer
	customerIDs    []string // creation order, for lists
	sessions       map[string]*session
	sessionIDs     []string
	setupIntents   map[string]*stripe.SetupIntent
	paymentMethods map[string]*paymentMethod
	pmIDs          []string
	paymentIntents map[string]*stripe.PaymentIntent
	piIDs          []string
	charges        map[string]*stripe.Charge
	refunds        map[string]*stripe.Refund
	events         map[string]*stripe.Event
	eventIDs       []string
	pendingAuths   map[string]*pendingAuth
	// dirty: changed outside a request that commits anyway (a session
	// expired when read, a delivery acknowledged).
	dirty bool
	// owed: events whose delivery starts at the next commit, once the state
	// that names them is durable.
	owed []string

	idemMu sync.Mutex
	idem   map[string]*idemEntry

	dmu        sync.Mutex
	deliveries []Delivery

	// The rate limiter's bucket: requests it holds, as of filledAt.
	rateMu   sync.Mutex
	tokens   float64
	filledAt time.Time

	ctx    context.Context // canceled by Close to stop deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{}
}

// session is a checkout session plus what Stripe keeps about it but does not
// show on the object (the data for the intent it will create).
type session struct {
	s                *stripe.CheckoutSession
	setupFutureUsage string
	piMetadata       map[string]string
	piDescription    string
	siMetadata       map[string]string
}

// paymentMethod is a card payment method with the issuer behaviour of the card
// number it was made from (the number itself is not kept).
type paymentMethod struct {
	pm       *stripe.PaymentMethod
	behavior cardBehavior
	// detached: Stripe refuses to attach a detached payment method again.
	detached    bool
	declineNext string // decline code of the next off-session charge
}

// New returns an Emulator configured by opts, with defaults filled in.
func New(opts Options) *Emulator {
	orDefault(&opts.RetryBase, 5*time.Minute)
	orDefault(&opts.RetryMax, 12*time.Hour)
	orDefault(&opts.MaxAttempts, 13)
	orDefault(&opts.DeliveryTimeout, 10*time.Second)
	orDefault(&opts.MaxConcurrentDeliveries, 16)
	orDefault(&opts.SessionSweep, 30*time.Second)
	opts.MerchantName = cmp.Or(opts.MerchantName, "Storefront")
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{
		opts:           opts,
		log:            cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		client:         cmp.Or(opts.HTTPClient, &http.Client{Timeout: opts.DeliveryTimeout}),
		pages:          parsePages(),
		publicURL:      strings.TrimRight(opts.PublicURL, "/"),
		webhookURL:     opts.WebhookURL,
		customers:      map[string]*stripe.Customer{},
		sessions:       map[string]*session{},
		setupIntents:   map[string]*stripe.SetupIntent{},
		paymentMethods: map[string]*paymentMethod{},
		paymentIntents: map[string]*stripe.PaymentIntent{},
		charges:        map[string]*stripe.Charge{},
		refunds:        map[string]*stripe.Refund{},
		events:         map[string]*stripe.Event{},
		pendingAuths:   map[string]*pendingAuth{},
		idem:           map[string]*idemEntry{},
		ctx:            ctx,
		cancel:         cancel,
		sem:            make(chan struct{}, opts.MaxConcurrentDeliveries),
	}
	e.wg.Add(1)
	go e.sweep()
	return e
}

// orDefault replaces a zero or negative setting by its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// sweep expires the sessions whose time has passed, as Stripe does without
// being asked, and forgets old idempotency keys, until Close.
func (e *Emulator) sweep() {
	defer e.wg.Done()
	tick := time.NewTicker(e.opts.SessionSweep)
	defer tick.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-tick.C:
		}
		e.mu.Lock()
		for _, id := range e.sessionIDs {
			e.sessionLocked(id)
		}
		e.idemMu.Lock()
		maps.DeleteFunc(e.idem, func(_ string, ent *idemEntry) bool { return ent.saved && e.now().Sub(ent.created) > idemTTL })
		e.idemMu.Unlock()
		_ = e.commitLocked(e.ctx, false) // saves if a session expired; logs its error
		e.mu.Unlock()
	}
}

// SetPublicURL sets the base URL used for session.url, for when the listener's
// address is only known after New (httptest.NewServer(e.Handler())). Sessions
// created earlier keep their URL.
func (e *Emulator) SetPublicURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publicURL = strings.TrimRight(u, "/")
}

// SetWebhookEndpoint changes where events are delivered from now on, including
// retries of earlier events; "" stops delivery.
func (e *Emulator) SetWebhookEndpoint(url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.webhookURL = url
}

// Close stops webhook deliveries (pending retries are abandoned) and waits for
// the delivery goroutines to return. The API keeps answering after Close.
func (e *Emulator) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

// Handler serves the API under /v1/ and the hosted checkout page under /c/pay/.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h route) { mux.Handle(pattern, e.api(h)) }

	api("POST /v1/customers", e.createCustomer)
	api("GET /v1/customers", e.listCustomers)
	// A deleted customer is still retrievable, as a {"deleted": true} stub.
	api("GET /v1/customers/{id}", e.retrieve(kindCustomer, func(id string) bool { return e.customers[id] != nil }))
	api("POST /v1/customers/{id}", e.updateCustomer)
	api("DELETE /v1/customers/{id}", e.deleteCustomer)
	api("GET /v1/customers/{id}/payment_methods", e.listCustomerPaymentMethods)

	api("POST /v1/checkout/sessions", e.createSession)
	api("GET /v1/checkout/sessions", e.listSessions)
	api("GET /v1/checkout/sessions/{id}", e.retrieve(kindSession, func(id string) bool { return e.sessionLocked(id) != nil }))
	api("POST /v1/checkout/sessions/{id}/expire", e.expireSession)

	api("GET /v1/setup_intents/{id}", e.retrieve(kindSetupIntent, func(id string) bool { return e.setupIntents[id] != nil }))

	api("GET /v1/payment_methods/{id}", e.retrieve(kindPaymentMethod, func(id string) bool { return e.paymentMethods[id] != nil }))
	api("POST /v1/payment_methods/{id}", e.updatePaymentMethod)
	api("POST /v1/payment_methods/{id}/attach", e.attachPaymentMethod)
	api("POST /v1/payment_methods/{id}/detach", e.detachPaymentMethod)

	api("POST /v1/payment_intents", e.createPaymentIntent)
	api("GET /v1/payment_intents", e.listPaymentIntents)
	api("GET /v1/payment_intents/{id}", e.retrieve(kindPaymentIntent, func(id string) bool { return e.paymentIntents[id] != nil }))
	api("POST /v1/payment_intents/{id}/cancel", e.cancelPaymentIntent)

	api("GET /v1/charges/{id}", e.retrieve(kindCharge, func(id string) bool { return e.charges[id] != nil }))

	api("POST /v1/refunds", e.createRefund)
	api("GET /v1/refunds/{id}", e.retrieve(kindRefund, func(id string) bool { return e.refunds[id] != nil }))

	api("GET /v1/events", e.listEvents)
	api("GET /v1/events/{id}", e.retrieve(kindEvent, func(id string) bool { return e.events[id] != nil }))

	api("POST /_test/payment_methods/{id}/{action}", e.testControl)
	// Everything else under /v1/ gets Stripe's "Unrecognized request URL".
	api("/v1/", e.unknownRoute)

	mux.HandleFunc("GET /c/pay/{id}", e.hostedPage)
	mux.HandleFunc("POST /c/pay/{id}", e.hostedSubmit)
	mux.HandleFunc("GET /{$}", e.indexPage)
	return e.durable(mux)
}

// durable holds each answer back until the state it reflects is saved
// (Options.State) and then starts the webhook deliveries the request caused.
// Any method but GET may change the state; a GET does only when it expires a
// session, which marks the state dirty. A failed save is a 500: the caller
// must not rely on what was not kept.
func (e *Emulator) durable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &heldResponse{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if err := e.commit(r.Context(), r.Method != http.MethodGet); err != nil {
			writeJSON(w, http.StatusInternalServerError, internalError().body())
			return
		}
		maps.Copy(w.Header(), rec.header)
		w.WriteHeader(rec.status)
		_, _ = rec.body.WriteTo(w)
	})
}

// heldResponse is an answer written into memory, sent once the state is saved.
type heldResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if !h.wrote {
		h.status, h.wrote = status, true
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	h.wrote = true
	return h.body.Write(b)
}

func (e *Emulator) now() time.Time { return e.opts.Now() }

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newID returns prefix plus 24 random alphanumerics, like Stripe's ids.
func newID(prefix string) string {
	return prefix + randomString(24)
}

func randomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (Go 1.24+).
	_, _ = rand.Read(b)
	for i := range b {
		// 256 % 62 bias is irrelevant for ids that only need to be unique.
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

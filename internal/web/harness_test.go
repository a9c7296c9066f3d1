package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/metrics"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/staff"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
	"github.com/storefront/storefront/internal/web"
	assets "github.com/storefront/storefront/web"
)

const (
	adminPassword = "correct horse battery staple"
	webhookSecret = "whsec_harness"
)

// stripeSide is the Stripe the store talks to: the emulator, served over
// HTTP. With down set, its API answers every call with a Stripe-shaped 500,
// as during an outage.
type stripeSide struct {
	emu    *stripeemu.Emulator
	server *httptest.Server
	down   atomic.Bool
	// answered, when set, runs after each API call has been answered: a
	// test uses it to fail our side between Stripe's answer and our commit.
	answered atomic.Pointer[func(*http.Request)]
	// latency, when set, holds each API call this long before answering
	// (or until the caller gives up), as a slow Stripe does; waiting counts
	// the calls being held.
	latency atomic.Int64
	waiting atomic.Int32
	// timeout, when set before newStore, is the gateway's budget per call.
	timeout time.Duration
	// seen, when set, is shown each API request and its body before it is answered.
	seen atomic.Pointer[func(r *http.Request, body []byte)]
}

func newStripe(t testing.TB, opts stripeemu.Options) *stripeSide {
	t.Helper()
	s := &stripeSide{emu: stripeemu.New(opts)}
	emuHandler := s.emu.Handler()
	if _, bench := t.(*testing.B); !bench {
		// Not in benchmarks, which measure the store: the spec, parsed and
		// held in this process's heap, would put its parse and the garbage
		// collector's marking of it into the store's figures.
		emuHandler = stripespec.Checked(t, emuHandler)
	}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lat := time.Duration(s.latency.Load()); lat > 0 && strings.HasPrefix(r.URL.Path, "/v1/") {
			// Read the body first: only then does the server notice a caller that hangs up.
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			s.waiting.Add(1)
			timer := time.NewTimer(lat)
			select {
			case <-timer.C:
				s.waiting.Add(-1)
			case <-r.Context().Done():
				timer.Stop()
				s.waiting.Add(-1)
				return // the caller gave up: nothing to answer
			}
		}
		if hook := s.seen.Load(); hook != nil && strings.HasPrefix(r.URL.Path, "/v1/") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			(*hook)(r, body)
		}
		if s.down.Load() && strings.HasPrefix(r.URL.Path, "/v1/") {
			w.Header().Set("Request-Id", "req_down123")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":{"type":"api_error","message":"An unknown error occurred"}}`)) //nolint:errcheck
			return
		}
		emuHandler.ServeHTTP(w, r)
		if hook := s.answered.Load(); hook != nil && strings.HasPrefix(r.URL.Path, "/v1/") {
			w.(http.Flusher).Flush()
			(*hook)(r)
		}
	}))
	s.emu.SetPublicURL(s.server.URL)
	t.Cleanup(func() { s.server.Close(); s.emu.Close() })
	return s
}

// harness is the whole store over real HTTP: a fresh database, the Stripe
// emulator behind the real stripe-go gateway, and the web server.
type harness struct {
	t     testing.TB
	db    *postgres.DB
	svc   *billing.Service
	shop  *shop.Service
	staff *staff.Service
	// skew moves the store's clock (sessions, lock-outs, schedules, the catalog's copy) ahead of real time.
	skew    atomic.Int64
	gateway *stripeapi.Gateway
	store   *httptest.Server
	client  *http.Client

	emu          *stripeemu.Emulator
	stripeServer *httptest.Server
	stripeDown   *atomic.Bool
	// jobsUI is River's UI once a test starts the jobs (startJobs).
	jobsUI atomic.Pointer[http.Handler]
	stripe *stripeSide
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newStore(t, newStripe(t, stripeemu.Options{}), nil)
}

// newHarnessWithLog is newHarness with the server logging to log.
func newHarnessWithLog(t *testing.T, log *slog.Logger) *harness {
	t.Helper()
	return newStoreLogging(t, newStripe(t, stripeemu.Options{}), nil, log)
}

// newStore builds a store on its own fresh database against the given
// Stripe; db, when not nil, replaces the fresh database.
func newStore(t testing.TB, stripe *stripeSide, db *postgres.DB) *harness {
	t.Helper()
	return newStoreLogging(t, stripe, db, nil)
}

func newStoreLogging(t testing.TB, stripe *stripeSide, db *postgres.DB, log *slog.Logger) *harness {
	t.Helper()
	return newStoreWith(t, stripe, storeOptions{db: db, log: log})
}

// storeOptions vary a harness's store.
type storeOptions struct {
	// db, when not nil, replaces the fresh database.
	db  *postgres.DB
	log *slog.Logger
	// dunning is the retry schedule of soft declines. Nil retries nothing,
	// so that a generic decline (the 0341 card) writes to the customer at
	// once, as the recovery tests expect; the dunning tests set one.
	dunning []time.Duration
	// catalogMaxAge is the shop's CatalogMaxAge; 0 is its default.
	catalogMaxAge time.Duration
	// unfollowed leaves the catalog's listener off, as when its connection is down.
	unfollowed bool
}

func newStoreWith(t testing.TB, stripe *stripeSide, opts storeOptions) *harness {
	t.Helper()
	db, log := opts.db, opts.log
	if db == nil {
		db = pg.NewDB(t)
	}
	dunning := opts.dunning
	if dunning == nil {
		dunning = []time.Duration{}
	}
	h := &harness{t: t, db: db, emu: stripe.emu, stripeServer: stripe.server, stripeDown: &stripe.down, stripe: stripe}
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Sources{Pool: db.Pool(), LastEventReceivedAt: db.LastEventReceivedAt})
	if err != nil {
		t.Fatal(err)
	}
	// stripe-go's own retries, as in production: Stripe answers a request
	// whose idempotency key is in flight with 409, which stripe-go retries.
	retries := int64(2)
	h.gateway = stripeapi.New(stripeapi.Config{SecretKey: "sk_test_harness", APIBase: stripe.server.URL, MaxNetworkRetries: &retries, Observer: m, Timeout: stripe.timeout, Logger: log})
	var handler http.Handler
	h.store = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(h.store.Close)
	key, err := h.db.Secret(context.Background(), billing.RecoveryKeyName)
	if err != nil {
		t.Fatal(err)
	}
	h.staff = staff.NewService(h.db, staff.Options{AdminPassword: adminPassword, Now: h.now})
	h.svc = billing.NewService(h.db, h.gateway, billing.Options{
		BaseURL: h.store.URL, Currency: "usd", APIVersion: stripeapi.APIVersion, RecoveryKey: key, Observer: m, Logger: log,
		Audit: h.staff.Record, Now: h.now, DunningSchedule: dunning,
	})
	linkKey, err := h.db.Secret(context.Background(), shop.LinkKeyName)
	if err != nil {
		t.Fatal(err)
	}
	h.shop = shop.NewService(h.db, h.svc, shop.Options{BaseURL: h.store.URL, LinkKey: linkKey, Audit: h.staff.Record, Logger: log, Now: h.now,
		CatalogMaxAge: opts.catalogMaxAge})
	if !opts.unfollowed {
		h.followCatalog(log)
	}
	srv, err := web.NewServer(web.Options{
		Service: h.svc, Shop: h.shop, Staff: h.staff, BaseURL: h.store.URL, Assets: assets.FS,
		Webhooks: stripeapi.NewWebhookVerifier(webhookSecret), Logger: log, Requests: m, Metrics: m.Handler(),
		Jobs: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ui := h.jobsUI.Load(); ui != nil {
				(*ui).ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	handler = srv.Handler()
	h.client = &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return h
}

// followCatalog runs the catalog's listener, as serve does, until the test ends.
func (h *harness) followCatalog(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.db.FollowCatalog(ctx, h.shop.CatalogChanged, log)
	}()
	// Before the database is dropped, which the listener's connection would hold up.
	h.t.Cleanup(func() { stop(); <-done })
}

// asStaff is a context whose actions are audited as a test's.
func asStaff() context.Context {
	return staff.WithActor(context.Background(), staff.Actor{Name: "test@example.com", Address: "192.0.2.1"})
}

// advance moves the store's clock (staff and billing) forward.
func (h *harness) advance(d time.Duration) { h.skew.Add(int64(d)) }

// now is the store's clock: real time, moved forward by advance.
func (h *harness) now() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }

type response struct {
	status   int
	body     string
	location string
}

func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(body), location: res.Header.Get("Location")}
}

func (h *harness) get(path string) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.store.URL+path, nil)
	return h.do(req)
}

func (h *harness) admin(path, user, password string) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.store.URL+path, nil)
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	return h.do(req)
}

func (h *harness) saveCard(email string) response {
	h.t.Helper()
	return h.saveCardFrom(h.store.URL, "", email)
}

// startSession presses Save card and returns the Checkout Session id it redirected to.
func (h *harness) startSession(email string) string {
	h.t.Helper()
	res := h.saveCard(email)
	if res.status != http.StatusSeeOther {
		h.t.Fatalf("Save card: status %d, body %s", res.status, res.body)
	}
	var id string
	for part := range strings.SplitSeq(res.location, "/") {
		if strings.HasPrefix(part, "cs_") {
			id = part
		}
	}
	if id == "" {
		h.t.Fatalf("redirect %q names no session", res.location)
	}
	return id
}

// completeWith pays the session on the emulator as a customer would.
func (h *harness) completeWith(sessionID, number, email string) {
	h.t.Helper()
	cvc := "123"
	if strings.HasPrefix(number, "34") || strings.HasPrefix(number, "37") {
		cvc = "1234" // American Express
	}
	err := h.emu.CompleteCheckout(context.Background(), sessionID, stripeemu.Card{
		Number: number, Expiry: "12 / 34", CVC: cvc, Name: "Ann Example", Email: email,
	})
	if err != nil {
		h.t.Fatalf("complete %s with %s: %v", sessionID, number, err)
	}
}

func (h *harness) count(table string) int {
	h.t.Helper()
	var n int
	if err := h.db.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// snapshot renders every row of every table, to prove a request changed nothing.
func (h *harness) snapshot() string {
	h.t.Helper()
	var b strings.Builder
	for _, table := range []string{"customers", "checkout_sessions", "setup_intents", "payment_methods", "stripe_events"} {
		var rows string
		err := h.db.Pool().QueryRow(context.Background(),
			fmt.Sprintf("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM %s t", table)).Scan(&rows)
		if err != nil {
			h.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:\n%s\n", table, rows)
	}
	return b.String()
}

// emuGet reads an object straight from the emulator's API, as Stripe's dashboard would show it.
func (h *harness) emuGet(path string) string {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.stripeServer.URL+path, nil)
	req.Header.Set("Authorization", "Bearer sk_test_harness")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

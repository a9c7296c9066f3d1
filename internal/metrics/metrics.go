// Package metrics counts what the store does, for Prometheus: requests,
// Stripe calls, webhook deliveries, charges and the database pool. Its
// metrics live on a registry that main creates and passes in; the domain
// reports through billing.Observer and stripeapi.CallObserver, which
// Metrics implements, so that nothing else imports Prometheus.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
)

// Sources are the things Metrics reads at scrape time.
type Sources struct {
	// Pool is the database pool whose connections are reported; nil: none.
	Pool *pgxpool.Pool
	// LastEventReceivedAt tells when the newest webhook event arrived, from
	// the database, so the lag is right whichever replica received it;
	// nil: no lag metric.
	LastEventReceivedAt func(context.Context) (time.Time, error)
	// Logger receives scrape errors; nil: discarded.
	Logger *slog.Logger
}

// Metrics holds the store's metrics. It is a billing.Observer, a
// stripeapi.CallObserver and the web server's request observer.
type Metrics struct {
	handler http.Handler

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	stripeCalls     *prometheus.CounterVec
	stripeDuration  *prometheus.HistogramVec
	eventsReceived  *prometheus.CounterVec
	eventsHandled   *prometheus.CounterVec
	charges         *prometheus.CounterVec

	// eventTypes are the webhook types counted by name; any other is "other".
	eventTypes map[string]bool
	// codes are the status codes as label values, made once rather than per request.
	codes [600]string
}

var (
	_ billing.Observer       = (*Metrics)(nil)
	_ stripeapi.CallObserver = (*Metrics)(nil)
)

// otherLabel stands for any value outside a label's known set, so that a
// client or Stripe cannot grow the number of series.
const otherLabel = "other"

// scrapeTimeout bounds the database reads of one scrape.
const scrapeTimeout = 2 * time.Second

// New registers the store's metrics, and Go's runtime and process
// collectors, on reg.
func New(reg *prometheus.Registry, src Sources) (*Metrics, error) {
	log := src.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefront_http_requests_total",
			Help: "HTTP requests answered, by route pattern (never the path: a /pay/{token} is a credential), method and status code.",
		}, []string{"route", "method", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "storefront_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		stripeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefront_stripe_calls_total",
			Help: "Stripe API calls, by operation and outcome (ok, card_error, client_error, rate_limited, server_error, timeout, network_error, canceled).",
		}, []string{"operation", "outcome"}),
		stripeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "storefront_stripe_call_duration_seconds",
			Help:    "Time a Stripe API call took, stripe-go's retries included, by operation.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
		eventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefront_webhook_events_received_total",
			Help: "Verified webhook events received, by type (types the store does not handle count as other).",
		}, []string{"type"}),
		eventsHandled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefront_webhook_events_total",
			Help: "Webhook deliveries by type and what became of them: applied, duplicate, failed (stored, to retry) or not_stored.",
		}, []string{"type", "outcome"}),
		charges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefront_charges_total",
			Help: "Off-session charges by outcome: succeeded, declined, authentication_required, failed (refused by Stripe), processing (outcome unknown, to retry); recovered counts recovery payments.",
		}, []string{"outcome"}),
		eventTypes: map[string]bool{},
	}
	for _, t := range billing.HandledEventTypes() {
		m.eventTypes[t] = true
	}
	for code := range m.codes {
		m.codes[code] = strconv.Itoa(code)
	}
	// Every outcome exists from the start, so a ratio has a denominator
	// before the first failure.
	for _, s := range []string{billing.ChargeSucceeded, billing.ChargeDeclined, billing.ChargeAuthenticationRequired,
		billing.ChargeFailed, billing.ChargeProcessing, billing.ChargeRecovered} {
		m.charges.WithLabelValues(s)
	}

	cs := []prometheus.Collector{
		m.requests, m.requestDuration, m.stripeCalls, m.stripeDuration, m.eventsReceived, m.eventsHandled, m.charges,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if src.Pool != nil {
		cs = append(cs, newPoolCollector(src.Pool))
	}
	if src.LastEventReceivedAt != nil {
		cs = append(cs, newWebhookLagCollector(src.LastEventReceivedAt, time.Now))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// A failing collector (the database away) drops its own metrics, not the scrape.
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slogErrorLog{log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
		Timeout:       10 * time.Second,
	}))
	return m, nil
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// ObserveRequest counts an answered request. route is chi's route pattern;
// empty for a request no route matched.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = knownMethod(method)
	code := otherLabel
	if status >= 0 && status < len(m.codes) {
		code = m.codes[status]
	}
	m.requests.WithLabelValues(route, method, code).Inc()
	m.requestDuration.WithLabelValues(route, method).Observe(took.Seconds())
}

// knownMethod keeps the method label to the methods HTTP defines: a client
// may send any token as a method.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return otherLabel
}

// ObserveCall counts a Stripe call; op and outcome come from stripeapi's
// fixed sets.
func (m *Metrics) ObserveCall(op, outcome string, took time.Duration) {
	m.stripeCalls.WithLabelValues(op, outcome).Inc()
	m.stripeDuration.WithLabelValues(op).Observe(took.Seconds())
}

// ChargeSettled counts a charge's outcome.
func (m *Metrics) ChargeSettled(status string) {
	m.charges.WithLabelValues(status).Inc()
}

// EventDelivered counts a webhook delivery and what became of it.
func (m *Metrics) EventDelivered(eventType string, outcome billing.DeliveryOutcome) {
	if !m.eventTypes[eventType] {
		eventType = otherLabel
	}
	m.eventsReceived.WithLabelValues(eventType).Inc()
	m.eventsHandled.WithLabelValues(eventType, string(outcome)).Inc()
}

// slogErrorLog routes promhttp's error log into slog.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) {
	l.log.Warn("metrics scrape", "err", fmt.Sprint(v...))
}

package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
)

// scrape is one read of /metrics, parsed.
type scrape map[string]*dto.MetricFamily

func (h *harness) scrape() scrape {
	h.t.Helper()
	res := h.admin("/metrics", "admin", adminPassword)
	if res.status != http.StatusOK {
		h.t.Fatalf("/metrics: %d %s", res.status, res.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(res.body))
	if err != nil {
		h.t.Fatalf("/metrics is not Prometheus' text format: %v\n%s", err, res.body)
	}
	return families
}

// value is the value of the series of name with exactly these labels
// (a histogram's count); found is false when there is no such series.
func (s scrape) value(name string, labels ...string) (v float64, found bool) {
	family, ok := s[name]
	if !ok {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range family.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func (s scrape) expect(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	got, found := s.value(name, labels...)
	if !found {
		t.Errorf("%s%v: no such series", name, labels)
	} else if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// TestMetricsShowChargesWebhooksAndCalls drives the store over HTTP, a
// charge of each kind and webhook deliveries of each outcome, then scrapes
// /metrics as Prometheus would and finds each of them counted.
func TestMetricsShowChargesWebhooksAndCalls(t *testing.T) {
	h := newHarness(t)
	good := h.recordedCard("metrics@example.com", "4242424242424242")
	declining := h.recordedCard("declines@example.com", "4000000000000341")
	if a := h.chargeCard(good.ID, "10.99", "usd"); a.Status != billing.ChargeSucceeded {
		t.Fatalf("charge: %s", a.Status)
	}
	if a := h.chargeCard(declining.ID, "5.00", "usd"); a.Status != billing.ChargeDeclined {
		t.Fatalf("charge: %s", a.Status)
	}

	completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
	for range 2 { // applied, then a duplicate
		if res := h.deliver(completed); res.status != http.StatusOK {
			t.Fatalf("webhook: %d", res.status)
		}
	}
	unhandled := eventJSON("evt_metrics_unhandled", "customer.created")
	if res := h.postWebhook(unhandled, signed(unhandled, webhookSecret, time.Now())); res.status != http.StatusOK {
		t.Fatalf("webhook of an unhandled type: %d", res.status)
	}
	// With Stripe down, a charge's outcome is unknown, and an event that
	// must be read back is stored but fails.
	h.stripeDown.Store(true)
	if a := h.chargeCard(good.ID, "7.00", "usd"); a.Status != billing.ChargeProcessing {
		t.Fatalf("charge with Stripe down: %s", a.Status)
	}
	attached := eventJSON("evt_metrics_attached", billing.EventPaymentMethodAttached)
	if res := h.postWebhook(attached, signed(attached, webhookSecret, time.Now())); res.status != http.StatusInternalServerError {
		t.Fatalf("webhook with Stripe down: %d, want 500", res.status)
	}
	h.stripeDown.Store(false)
	h.get("/no/such/page")

	m := h.scrape()

	m.expect(t, 1, "storefront_charges_total", "outcome", billing.ChargeSucceeded)
	m.expect(t, 1, "storefront_charges_total", "outcome", billing.ChargeDeclined)
	m.expect(t, 1, "storefront_charges_total", "outcome", billing.ChargeProcessing)
	m.expect(t, 0, "storefront_charges_total", "outcome", billing.ChargeFailed)

	completedType := billing.EventCheckoutSessionCompleted
	m.expect(t, 2, "storefront_webhook_events_received_total", "type", completedType)
	m.expect(t, 1, "storefront_webhook_events_total", "type", completedType, "outcome", string(billing.DeliveryApplied))
	m.expect(t, 1, "storefront_webhook_events_total", "type", completedType, "outcome", string(billing.DeliveryDuplicate))
	m.expect(t, 1, "storefront_webhook_events_total", "type", "other", "outcome", string(billing.DeliveryApplied))
	m.expect(t, 1, "storefront_webhook_events_total", "type", billing.EventPaymentMethodAttached, "outcome", string(billing.DeliveryFailed))
	if _, found := m.value("storefront_webhook_events_received_total", "type", "customer.created"); found {
		t.Error("an unhandled event type has a series of its own; it should count as other")
	}
	if age, found := m.value("storefront_webhook_last_event_age_seconds"); !found || age < 0 || age > 600 {
		t.Errorf("webhook lag %v (found: %v), want the few seconds since the last delivery", age, found)
	}

	charges := float64(h.gateway.Calls()[stripeapi.OpCreatePaymentIntent])
	m.expect(t, 1, "storefront_stripe_calls_total", "operation", stripeapi.OpCreatePaymentIntent, "outcome", stripeapi.OutcomeOK)
	m.expect(t, 1, "storefront_stripe_calls_total", "operation", stripeapi.OpCreatePaymentIntent, "outcome", stripeapi.OutcomeCardError)
	m.expect(t, charges, "storefront_stripe_call_duration_seconds", "operation", stripeapi.OpCreatePaymentIntent)
	m.expect(t, 1, "storefront_stripe_calls_total", "operation", stripeapi.OpCreatePaymentIntent, "outcome", stripeapi.OutcomeServerError)
	m.expect(t, 1, "storefront_stripe_calls_total", "operation", stripeapi.OpRetrievePaymentMethod, "outcome", stripeapi.OutcomeServerError)

	m.expect(t, 3, "storefront_http_requests_total", "route", "/admin/charges", "method", "POST", "code", "303")
	m.expect(t, 3, "storefront_http_request_duration_seconds", "route", "/admin/charges", "method", "POST")
	m.expect(t, 2, "storefront_http_requests_total", "route", "/success", "method", "GET", "code", "200")
	m.expect(t, 1, "storefront_http_requests_total", "route", "/webhook", "method", "POST", "code", "500")
	m.expect(t, 1, "storefront_http_requests_total", "route", "unmatched", "method", "GET", "code", "404")
	for _, series := range m["storefront_http_requests_total"].GetMetric() {
		for _, l := range series.GetLabel() {
			if l.GetName() == "route" && (strings.Contains(l.GetValue(), "cs_test_") || strings.ContainsAny(l.GetValue(), "0123456789")) {
				t.Errorf("route label %q names a path, not a route pattern", l.GetValue())
			}
		}
	}

	stat := h.db.Pool().Stat()
	m.expect(t, float64(stat.MaxConns()), "storefront_db_pool_max_connections")
	total, _ := m.value("storefront_db_pool_total_connections")
	var byState float64
	for _, state := range []string{"acquired", "idle", "constructing"} {
		n, found := m.value("storefront_db_pool_connections", "state", state)
		if !found {
			t.Errorf("no pool gauge for %s connections", state)
		}
		byState += n
	}
	if total < 1 || total > float64(stat.MaxConns()) || byState != total {
		t.Errorf("pool: %v connections in all, %v by state, max %d", total, byState, stat.MaxConns())
	}
	if acquires, _ := m.value("storefront_db_pool_acquires_total"); acquires < 10 {
		t.Errorf("pool acquires %v: the requests above took more", acquires)
	}
	if _, found := m.value("go_goroutines"); !found {
		t.Error("no Go runtime metrics")
	}
}

func TestMetricsNeedStaffCredentials(t *testing.T) {
	h := newHarness(t)
	cases := map[string]struct{ user, password string }{
		"no credentials": {"", ""},
		"wrong password": {"admin", "wrong password!"},
		"wrong user":     {"root", adminPassword},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := h.admin("/metrics", tc.user, tc.password)
			if res.status != http.StatusUnauthorized || strings.Contains(res.body, "storefront_") {
				t.Errorf("/metrics: %d, want 401 and no metrics", res.status)
			}
		})
	}
	if res := h.admin("/metrics", "admin", adminPassword); res.status != http.StatusOK || !strings.Contains(res.body, "# TYPE storefront_charges_total counter") {
		t.Errorf("/metrics with the admin's credentials: %d", res.status)
	}
}

// TestMetricsCountARecoveryOnce: a declined charge paid through its
// recovery link is counted as recovered once, though the return page and
// the webhook both record it.
func TestMetricsCountARecoveryOnce(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("recover@example.com", "4000000000000341")
	h.chargeCard(pm.ID, "25.00", "usd")
	link := strings.TrimPrefix(h.notifications()[0].Link, h.store.URL)
	res := h.get(link)
	sessionID := res.location[strings.LastIndex(res.location, "/")+1:]
	h.completeWith(sessionID, "4242424242424242", "recover@example.com")
	if res := h.get("/pay/complete?session_id=" + sessionID); res.status != http.StatusOK {
		t.Fatalf("return page: %d", res.status)
	}
	delivered := 0
	for _, e := range h.stripeEvents() {
		if e.Type == billing.EventCheckoutSessionCompleted && e.ObjectID == sessionID {
			if res := h.deliver(e); res.status != http.StatusOK {
				t.Fatalf("webhook: %d", res.status)
			}
			delivered++
		}
	}
	if delivered != 1 {
		t.Fatalf("%d checkout.session.completed events for the recovery session, want 1", delivered)
	}
	m := h.scrape()
	m.expect(t, 1, "storefront_charges_total", "outcome", billing.ChargeDeclined)
	m.expect(t, 1, "storefront_charges_total", "outcome", billing.ChargeRecovered)
	m.expect(t, 1, "storefront_http_requests_total", "route", "/pay/{token}", "method", "GET", "code", "303")
}

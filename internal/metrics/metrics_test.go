package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/storefront/storefront/internal/billing"
)

func TestLabelsStayInFixedSets(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("/pay/{token}", "GET", 303, time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.ObserveRequest("/", "BREW", 405, time.Millisecond)
	m.ObserveRequest("/", "GET", 999, time.Millisecond)
	m.EventDelivered(billing.EventCheckoutSessionCompleted, billing.DeliveryApplied)
	m.EventDelivered("customer.created", billing.DeliveryApplied)
	m.EventDelivered("invented.by.an_attacker", billing.DeliveryDuplicate)

	want := `
# HELP storefront_http_requests_total HTTP requests answered, by route pattern (never the path: a /pay/{token} is a credential), method and status code.
# TYPE storefront_http_requests_total counter
storefront_http_requests_total{code="303",method="GET",route="/pay/{token}"} 1
storefront_http_requests_total{code="404",method="GET",route="unmatched"} 1
storefront_http_requests_total{code="405",method="other",route="/"} 1
storefront_http_requests_total{code="other",method="GET",route="/"} 1
# HELP storefront_webhook_events_received_total Verified webhook events received, by type (types the store does not handle count as other).
# TYPE storefront_webhook_events_received_total counter
storefront_webhook_events_received_total{type="checkout.session.completed"} 1
storefront_webhook_events_received_total{type="other"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "storefront_http_requests_total", "storefront_webhook_events_received_total"); err != nil {
		t.Error(err)
	}
}

func TestWebhookLag(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		last time.Time
		err  error
		want string
	}{
		{"an event 90 s ago", now.Add(-90 * time.Second), nil, "storefront_webhook_last_event_age_seconds 90\n"},
		{"none yet", time.Time{}, nil, ""},
		{"a clock ahead of ours", now.Add(time.Second), nil, "storefront_webhook_last_event_age_seconds 0\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newWebhookLagCollector(func(context.Context) (time.Time, error) { return tc.last, tc.err }, func() time.Time { return now })
			want := ""
			if tc.want != "" {
				want = "# HELP storefront_webhook_last_event_age_seconds Seconds since the newest webhook event was received, by any replica; absent until one has been.\n" +
					"# TYPE storefront_webhook_last_event_age_seconds gauge\n" + tc.want
			}
			if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestScrapeSurvivesADatabaseError: with the database away, the lag is
// missing but every other metric is still served.
func TestScrapeSurvivesADatabaseError(t *testing.T) {
	m, err := New(prometheus.NewRegistry(), Sources{
		LastEventReceivedAt: func(context.Context) (time.Time, error) { return time.Time{}, errors.New("connection refused") },
	})
	if err != nil {
		t.Fatal(err)
	}
	m.ChargeSettled(billing.ChargeSucceeded)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || !strings.Contains(string(body), `storefront_charges_total{outcome="succeeded"} 1`) ||
		strings.Contains(string(body), "storefront_webhook_last_event_age_seconds ") {
		t.Errorf("scrape with the database away: %d\n%s", rec.Code, body)
	}
}

// TestObservingARequestDoesNotAllocate: the request middleware runs on
// every request, so counting one must cost no garbage once its series exist.
func TestObservingARequestDoesNotAllocate(t *testing.T) {
	m, err := New(prometheus.NewRegistry(), Sources{})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("/admin/charges/{id}", "GET", 200, time.Millisecond)
	allocs := testing.AllocsPerRun(100, func() {
		m.ObserveRequest("/admin/charges/{id}", "GET", 200, time.Millisecond)
	})
	if allocs > 0 {
		t.Errorf("ObserveRequest allocates %v times per request", allocs)
	}
}

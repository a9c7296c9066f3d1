package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/testkit"
)

// TestMetricsAddresses: the store's own port serves /metrics to staff
// only; METRICS_ADDR serves it to anyone who reaches that address, and
// nothing else.
func TestMetricsAddresses(t *testing.T) {
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	s := startLocalStoreWith(t, map[string]string{"METRICS_ADDR": metricsAddr})
	get(t, s.baseURL+"/") // one request to count

	if res, body := get(t, s.baseURL+"/metrics"); res.StatusCode != http.StatusUnauthorized || strings.Contains(body, "storefront_") {
		t.Errorf("/metrics on the store's port without credentials: %d", res.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, s.baseURL+"/metrics", nil)
	req.SetBasicAuth("admin", s.password)
	res, body := mustDo(t, req)
	wantSeries := `storefront_http_requests_total{code="200",method="GET",route="/"} 1`
	if res.StatusCode != http.StatusOK || !strings.Contains(body, wantSeries) || !strings.Contains(body, "storefront_db_pool_max_connections") {
		t.Errorf("/metrics with the admin's credentials: %d, want %s and the pool's gauges", res.StatusCode, wantSeries)
	}

	res, body = get(t, "http://"+metricsAddr+"/metrics")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, wantSeries) {
		t.Errorf("/metrics on METRICS_ADDR: %d", res.StatusCode)
	}
	if res, _ := get(t, "http://"+metricsAddr+"/admin"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/admin on METRICS_ADDR: %d, want 404: it serves metrics only", res.StatusCode)
	}
	if !strings.Contains(s.stdout.String(), "http://"+metricsAddr+"/metrics") {
		t.Errorf("the start-up output does not name the metrics address:\n%s", s.stdout)
	}
}

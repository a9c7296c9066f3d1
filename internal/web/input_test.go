package web_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/web"
	assets "github.com/storefront/storefront/web"
)

// Values PostgreSQL refuses (NUL, invalid UTF-8) used to reach it and answer
// 500; every one is now a 400 that changes nothing and calls Stripe zero times.
func TestUnusableInputIs400Everywhere(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("ivy@example.com", "4242424242424242")
	long := strings.Repeat("x", 2000)
	gets := map[string]string{
		"search with NUL":          "/admin?q=%00",
		"search invalid UTF-8":     "/admin?q=%ff",
		"search over-long":         "/admin?q=" + long,
		"cursor id invalid UTF-8":  "/admin?before=2026-01-02T03:04:05Z&before_id=pm_%ff",
		"cursor id with NUL":       "/admin?before=2026-01-02T03:04:05Z&before_id=pm_a%00",
		"cursor id not a card":     "/admin?before=2026-01-02T03:04:05Z&before_id=x",
		"cursor time out of range": "/admin?before=0001-01-01T00:00:00Z&before_id=pm_a",
		"unreadable query":         "/admin?q=%zz",
		"success with NUL":         "/success?session_id=cs_test_a%00",
		"param name with NUL":      "/admin?%00=1",
	}
	posts := map[string]struct {
		path string
		form url.Values
	}{
		"email with NUL":         {"/create-checkout-session", url.Values{"email": {"ann\x00@example.com"}}},
		"email invalid UTF-8":    {"/create-checkout-session", url.Values{"email": {"ann\xff@example.com"}}},
		"email with bidi":        {"/create-checkout-session", url.Values{"email": {"ann\u202e@example.com"}}},
		"email to an IP":         {"/create-checkout-session", url.Values{"email": {"ann@[127.0.0.1]"}}},
		"email over-long":        {"/create-checkout-session", url.Values{"email": {long + "@example.com"}}},
		"charge amount with NUL": {"/admin/charges", url.Values{"payment_method": {pm.ID}, "amount": {"10\x00"}, "currency": {"usd"}}},
		"charge currency UTF-8":  {"/admin/charges", url.Values{"payment_method": {pm.ID}, "amount": {"10"}, "currency": {"\xffsd"}}},
		"charge key over-long":   {"/admin/charges", url.Values{"payment_method": {pm.ID}, "amount": {"10"}, "key": {long}}},
	}
	check := func(t *testing.T, res response, before string, calls int) {
		t.Helper()
		if res.status != http.StatusBadRequest {
			t.Errorf("status %d, want 400: %.300s", res.status, res.body)
		}
		if after := h.snapshot(); after != before {
			t.Errorf("database changed:\n%s\n->\n%s", before, after)
		}
		if n := h.gateway.TotalCalls(); n != calls {
			t.Errorf("%d Stripe calls, want none", n-calls)
		}
	}
	for name, path := range gets {
		t.Run(name, func(t *testing.T) {
			before, calls := h.snapshot(), h.gateway.TotalCalls()
			check(t, h.admin(path, "admin", adminPassword), before, calls)
		})
	}
	for name, p := range posts {
		t.Run(name, func(t *testing.T) {
			before, calls := h.snapshot(), h.gateway.TotalCalls()
			check(t, h.adminPost(p.path, p.form), before, calls)
		})
	}
}

func TestStaticFilesAreNotListed(t *testing.T) {
	h := newHarness(t)
	if res := h.get("/static/style.css"); res.status != http.StatusOK {
		t.Errorf("stylesheet: %d", res.status)
	}
	for _, path := range []string{"/static/", "/static", "/static/."} {
		if res := h.get(path); res.status == http.StatusOK || strings.Contains(res.body, `href="style.css"`) {
			t.Errorf("%s: %d, lists the files: %.200s", path, res.status, res.body)
		}
	}
}

// A mistyped recovery link's token is a credential: no log line carries it.
func TestUnmatchedPathsAreNotLogged(t *testing.T) {
	var logs bytes.Buffer
	h := newHarnessWithLog(t, slog.New(slog.NewTextHandler(&logs, nil)))
	token := "AAAAAAAAAAEAAAAAZ3ZmWg.c2VjcmV0c2lnbmF0dXJlMTIz"
	for _, path := range []string{"/pay/" + token + "/", "/pay/" + token + "/extra", "/pay/" + token} {
		h.get(path)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), "c2VjcmV0c2lnbmF0dXJlMTIz") {
		t.Errorf("a recovery token reached the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "(no route)") {
		t.Errorf("unmatched requests are not logged at all:\n%s", logs.String())
	}
}

func TestHSTSOnlyBehindHTTPS(t *testing.T) {
	h := newHarness(t)
	for baseURL, want := range map[string]bool{"https://shop.example.com": true, "http://localhost:4242": false} {
		srv, err := web.NewServer(web.Options{
			Service: h.svc, Shop: h.shop, Staff: h.staff, Assets: assets.FS, BaseURL: baseURL,
			Webhooks: stripeapi.NewWebhookVerifier(webhookSecret),
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		got := rec.Header().Get("Strict-Transport-Security")
		if (got != "") != want {
			t.Errorf("BASE_URL %s: Strict-Transport-Security %q", baseURL, got)
		}
	}
}

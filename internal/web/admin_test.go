package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdminListsSavedCardsNewestFirst(t *testing.T) {
	h := newHarness(t)
	saved := []struct{ email, number, last4 string }{
		{"old@example.com", "4242424242424242", "4242"},
		{"new@example.com", "5555555555554444", "4444"},
	}
	for _, s := range saved {
		id := h.startSession(s.email)
		h.completeWith(id, s.number, s.email)
		if res := h.get("/success?session_id=" + id); res.status != http.StatusOK {
			t.Fatalf("success: %d", res.status)
		}
	}
	res := h.admin("/admin", "admin", adminPassword)
	if res.status != http.StatusOK {
		t.Fatalf("admin: %d", res.status)
	}
	newer := strings.Index(res.body, "new@example.com")
	older := strings.Index(res.body, "old@example.com")
	if newer < 0 || older < 0 || newer > older {
		t.Errorf("want both emails, newest first; positions new=%d old=%d", newer, older)
	}
	for _, want := range []string{"Visa ···· 4242", "Mastercard ···· 4444", "12/2034", "active", time.Now().UTC().Format("2006-01-02")} {
		if !strings.Contains(res.body, want) {
			t.Errorf("admin list lacks %q", want)
		}
	}
}

func TestAdminPaginatesWithKeysetLinks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c, err := h.db.EnsureStripeCustomer(ctx, "many@example.com", func(context.Context, string, string) (string, error) { return "cus_Many1", nil })
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		_, err := h.db.Pool().Exec(ctx, `INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, status, stripe_created_at, saved_at)
			VALUES ($1, $2, 'card', 'visa', $3, 1, 2030, 'active', now(), $4)`,
			fmt.Sprintf("pm_page%02d", i), c.ID, fmt.Sprintf("%04d", i), base.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
	}
	first := h.admin("/admin", "admin", adminPassword)
	if !strings.Contains(first.body, "pm_page59") || strings.Contains(first.body, "pm_page09") {
		t.Error("first page should hold the 50 newest")
	}
	i := strings.Index(first.body, `href="/admin?before=`)
	if i < 0 {
		t.Fatal("no link to older cards")
	}
	link := first.body[i+len(`href="`):]
	link = strings.ReplaceAll(link[:strings.IndexByte(link, '"')], "&amp;", "&")
	second := h.admin(link, "admin", adminPassword)
	if second.status != http.StatusOK || !strings.Contains(second.body, "pm_page09") || strings.Contains(second.body, "pm_page10") {
		t.Errorf("second page: %d, want exactly the 10 oldest", second.status)
	}
	if bad := h.admin("/admin?before=yesterday", "admin", adminPassword); bad.status != http.StatusBadRequest {
		t.Errorf("malformed cursor: %d, want 400", bad.status)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := h.get(path); res.status != http.StatusOK {
			t.Errorf("%s: %d", path, res.status)
		}
	}
	h.db.Close()
	if res := h.get("/readyz"); res.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed: %d, want 503", res.status)
	}
	if res := h.get("/healthz"); res.status != http.StatusOK {
		t.Errorf("/healthz is liveness and must not depend on the database: %d", res.status)
	}
}

func TestResponsesCarrySecurityHeaders(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest(http.MethodGet, h.store.URL+"/", nil)
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, header := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if res.Header.Get(header) == "" {
			t.Errorf("missing %s", header)
		}
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/create-checkout-session", strings.NewReader("email=ann%40example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	if res := h.do(req); res.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", res.status)
	}
	if n := h.gateway.TotalCalls(); n != 0 {
		t.Errorf("%d Stripe calls from a forged request", n)
	}
}

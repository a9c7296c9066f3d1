package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/web"
	assets "github.com/storefront/storefront/web"
)

// behindProxy serves the harness's store as if behind a proxy on loopback,
// so a test can speak from many client addresses through X-Forwarded-For.
func behindProxy(t *testing.T, h *harness) *httptest.Server {
	srv, err := web.NewServer(web.Options{
		Service: h.svc, Shop: h.shop, Staff: h.staff, Assets: assets.FS,
		Webhooks: stripeapi.NewWebhookVerifier(webhookSecret), TrustedProxies: []string{"127.0.0.1/32", "::1/128"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(srv.Handler())
	t.Cleanup(s.Close)
	return s
}

// saveCardFrom presses Save card on the store at base, as the client that
// X-Forwarded-For names (none: the TCP peer).
func (h *harness) saveCardFrom(base, client, email string) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/create-checkout-session", strings.NewReader(url.Values{"email": {email}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	return h.do(req)
}

// 400 new emails in 3.2 s used to make 400 Stripe Customers and sessions.
func TestSaveCardIsRateLimitedPerAddress(t *testing.T) {
	h := newHarness(t)
	for i := range 20 {
		if res := h.saveCard(fmt.Sprintf("person%d@example.com", i)); res.status != http.StatusSeeOther {
			t.Fatalf("post %d from one address: %d, want 303 (people in one office must pass)", i+1, res.status)
		}
	}
	limited := 0
	for i := 20; i < 60; i++ {
		req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/create-checkout-session",
			strings.NewReader(url.Values{"email": {fmt.Sprintf("person%d@example.com", i)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)) // not trusted: ignored
		res, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			limited++
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited < 20 {
		t.Errorf("%d of 40 posts over the limit were refused, want most", limited)
	}
	if customers := h.count("customers"); customers > 40 {
		t.Errorf("%d customers made from one address in a minute", customers)
	}
	res := h.saveCard("one.more@example.com")
	if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "Please wait a minute") {
		t.Errorf("over the limit: %d, want 429 with a page that says what to do", res.status)
	}
}

func TestSaveCardIsRateLimitedPerEmail(t *testing.T) {
	h := newHarness(t)
	proxied := behindProxy(t, h)
	passed := 0
	for i := range 15 {
		if res := h.saveCardFrom(proxied.URL, fmt.Sprintf("198.51.100.%d", i+1), "target@example.com"); res.status == http.StatusSeeOther {
			passed++
		}
	}
	if passed < 5 || passed > 10 {
		t.Errorf("%d of 15 Save card presses for one email from 15 addresses passed, want 5 to 10", passed)
	}
	if res := h.saveCardFrom(proxied.URL, "198.51.100.99", "someone.else@example.com"); res.status != http.StatusSeeOther {
		t.Errorf("another email: %d, want 303", res.status)
	}
}

func TestRecoveryLinksAreRateLimitedPerAddress(t *testing.T) {
	h := newHarness(t)
	statuses := map[int]int{}
	for range 40 {
		statuses[h.get("/pay/not-a-token").status]++
	}
	if statuses[http.StatusNotFound] < 20 || statuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("40 link opens from one address: %v, want the first 30 answered and then 429s", statuses)
	}
}

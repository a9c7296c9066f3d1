package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeemu"
)

// answer is a response read by a goroutine, which may not call t.Fatal.
type answer struct {
	status   int
	location string
	body     string
	err      error
}

func fetch(client *http.Client, req *http.Request) answer {
	res, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, location: res.Header.Get("Location"), body: string(body), err: err}
}

// TestSlowStripeLeavesTheStoreAnswering is the acceptance test of issue 8's
// time budgets: Stripe takes 30 s a call while admins charge cards and
// customers press Save card. Each Stripe call gets its budget (a short one
// here, so the test is fast), no connection is held across it, so /webhook
// and /readyz answer at once, and the admin gets the attempt page saying
// processing with a Retry button, never an empty reply.
func TestSlowStripeLeavesTheStoreAnswering(t *testing.T) {
	stripeSide := newStripe(t, stripeemu.Options{})
	stripeSide.timeout = time.Second
	h := newStore(t, stripeSide, nil)
	const n = 6
	var cards []string
	for i := range n {
		cards = append(cards, h.recordedCard(fmt.Sprintf("slow%d@example.com", i), "4242424242424242").ID)
	}

	stripeSide.latency.Store(int64(30 * time.Second))
	post := func(path string, form url.Values, admin bool) answer {
		req, _ := http.NewRequest(http.MethodPost, h.store.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if admin {
			req.SetBasicAuth("admin", adminPassword)
		}
		return fetch(h.client, req)
	}
	var wg sync.WaitGroup
	charges, clicks := make(chan answer, n), make(chan answer, n)
	for i, pm := range cards {
		wg.Go(func() {
			charges <- post("/admin/charges", url.Values{"confirm": {"yes"}, "payment_method": {pm}, "amount": {"12.00"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()}}, true)
		})
		wg.Go(func() {
			clicks <- post("/create-checkout-session", url.Values{"email": {fmt.Sprintf("new%d@example.com", i)}}, false)
		})
	}
	// Wait until every one of them is stuck in a Stripe call.
	for deadline := time.Now().Add(10 * time.Second); stripeSide.waiting.Load() < 2*n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached Stripe", stripeSide.waiting.Load(), 2*n)
		}
		time.Sleep(5 * time.Millisecond)
	}

	quick := &http.Client{Timeout: time.Second}
	payload := eventJSON("evt_slowstripe1", billing.EventCheckoutSessionExpired)
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/webhook", bytes.NewReader(payload))
	req.Header.Set("Stripe-Signature", signed(payload, webhookSecret, time.Now()))
	if res := fetch(quick, req); res.err != nil || res.status != http.StatusOK {
		t.Errorf("/webhook while Stripe is slow: %d %v, want 200 within 1s", res.status, res.err)
	}
	req, _ = http.NewRequest(http.MethodGet, h.store.URL+"/readyz", nil)
	if res := fetch(quick, req); res.err != nil || res.status != http.StatusOK {
		t.Errorf("/readyz while Stripe is slow: %d %v, want 200 within 1s", res.status, res.err)
	}
	if got := stripeSide.waiting.Load(); got < 2*n {
		t.Fatalf("the Stripe calls ended (%d left) before the checks ran: the test proved nothing", got)
	}

	wg.Wait()
	close(charges)
	close(clicks)
	for res := range charges {
		if res.err != nil || res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/admin/charges/") {
			t.Errorf("admin charge: %d %q %v, want 303 to the attempt page", res.status, res.location, res.err)
			continue
		}
		page := h.admin(res.location, "admin", adminPassword)
		if !strings.Contains(page.body, `id="charge-status" data-status="processing"`) || !strings.Contains(page.body, "/retry") {
			t.Errorf("attempt page %s does not say processing with a Retry button", res.location)
		}
	}
	for res := range clicks {
		if res.err != nil || res.status < 500 || !strings.Contains(res.body, "</html>") {
			t.Errorf("Save card: %d %v, want an error page, not an empty reply", res.status, res.err)
		}
	}
}

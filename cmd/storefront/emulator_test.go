package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/testkit"
)

// TestEmulatorCommandRateLimit: `storefront emulator -rate-limit 2` takes a
// burst of two API requests, then answers Stripe's 429 rate_limit.
func TestEmulatorCommandRateLimit(t *testing.T) {
	if err := run(context.Background(), []string{"emulator", "-rate-limit", "-1"}, nil, nil, io.Discard, io.Discard); err == nil {
		t.Error("a negative rate limit was taken")
	}
	port := testkit.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "-port", fmt.Sprint(port), "-rate-limit", "2"}, nil, nil, out, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("emulator: %v", err)
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "rate limit: 2 requests a second"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not start, or does not say its limit:\n%s", out)
		}
	}
	statuses := map[int]int{}
	var body string
	for range 6 {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_cmd")
		res, b := mustDo(t, req)
		statuses[res.StatusCode]++
		if res.StatusCode == http.StatusTooManyRequests {
			body = b
		}
	}
	if statuses[http.StatusOK] < 2 || statuses[http.StatusTooManyRequests] == 0 || !strings.Contains(body, `"code": "rate_limit"`) {
		t.Errorf("six requests at once: %v\n%s", statuses, body)
	}
}

// TestLocalModeEmulatorRateLimit: EMULATOR_RATE_LIMIT limits the built-in
// emulator of local mode; a Save card that meets its 429 is sent again and
// gets through.
func TestLocalModeEmulatorRateLimit(t *testing.T) {
	s := startLocalStoreWith(t, map[string]string{"EMULATOR_RATE_LIMIT": "1"})
	key, err := localSecret(context.Background(), s.db, localEmulatorKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	refused := ""
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, s.baseURL+emulatorPrefix+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_"+key)
		if res, body := mustDo(t, req); res.StatusCode == http.StatusTooManyRequests {
			refused = body
			break
		}
	}
	if !strings.Contains(refused, `"code": "rate_limit"`) {
		t.Fatalf("five requests at once to an emulator taking one a second: none refused")
	}
	res, body := postForm(t, s.baseURL+"/create-checkout-session", url.Values{"email": {"late@example.com"}})
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(s.logs.String(), "stripe answered 429") {
		t.Errorf("Save card with the emulator's bucket empty: %d, want 303 after a 429\n%s\n%s", res.StatusCode, body, s.logs)
	}
}

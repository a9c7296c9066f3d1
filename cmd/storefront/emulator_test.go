package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
// emulator of local mode, and the store rides its 429s out: three Save
// card presses at once against one request a second all reach the card page.
func TestLocalModeEmulatorRateLimit(t *testing.T) {
	s := startLocalStoreWith(t, map[string]string{"EMULATOR_RATE_LIMIT": "1"})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			res, err := noRedirects.PostForm(s.baseURL+"/create-checkout-session", url.Values{"email": {fmt.Sprintf("r%d@example.com", i)}})
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Errorf("Save card %d: %d", i, res.StatusCode)
			}
		})
	}
	wg.Wait()
	if !strings.Contains(s.logs.String(), "stripe answered 429") {
		t.Errorf("the emulator never refused a request:\n%s", s.logs)
	}
}

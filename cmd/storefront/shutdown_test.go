package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// TestShutdownDrainsAStripeCallInFlight: SIGTERM (the cancelled context)
// arrives while a request waits on a Stripe that never answers. The call
// runs out at STRIPE_TIMEOUT, the request answers with its error page, the
// drain (longer than any call's deadline) lets it, and run returns nil.
// Before time budgets, stripe-go waited 30 s a try, past the 20 s drain, and
// the server exited 1.
func TestShutdownDrainsAStripeCallInFlight(t *testing.T) {
	emu := stripeemu.New(stripeemu.Options{})
	t.Cleanup(emu.Close)
	arrived := make(chan struct{}, 1)
	stripeHandler := stripespec.Checked(t, emu.Handler())
	stripeServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions" {
			io.ReadAll(r.Body) //nolint:errcheck // read it all so that a caller hanging up is noticed
			select {
			case arrived <- struct{}{}:
			default:
			}
			<-r.Context().Done() // a Stripe that never answers
			return
		}
		stripeHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(stripeServer.Close)

	_, dbURL := pg.NewDBWithURL(t)
	port := testkit.FreePort(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "PORT": fmt.Sprint(port), "STRIPE_API_BASE": stripeServer.URL, "STRIPE_TIMEOUT": "2s",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, io.Discard, logs)
	}()
	base := fmt.Sprintf("http://localhost:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not start:\n%s", logs)
		}
	}

	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := noRedirects.PostForm(base+"/create-checkout-session", url.Values{"email": {"term@example.com"}})
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		answered <- answer{status: res.StatusCode, body: string(body), err: err}
	}()
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the request never reached Stripe")
	}
	cancel() // SIGTERM

	a := <-answered
	if a.err != nil || a.status < 500 || !strings.Contains(a.body, "</html>") {
		t.Errorf("the request in flight got %d %v, want its error page", a.status, a.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil after draining:\n%s", err, logs)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not return after draining")
	}
}

package stripeapi_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/testkit"
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestOutcome(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"no error", nil, stripeapi.OutcomeOK},
		{"card declined", &stripe.Error{HTTPStatusCode: 402, Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeCardDeclined}, stripeapi.OutcomeCardError},
		{"402 without a type", &stripe.Error{HTTPStatusCode: 402}, stripeapi.OutcomeCardError},
		{"invalid request", &stripe.Error{HTTPStatusCode: 400, Type: stripe.ErrorTypeInvalidRequest}, stripeapi.OutcomeClientError},
		{"bad key", &stripe.Error{HTTPStatusCode: 401, Type: stripe.ErrorTypeInvalidRequest}, stripeapi.OutcomeClientError},
		{"missing object", &stripe.Error{HTTPStatusCode: 404, Code: stripe.ErrorCodeResourceMissing}, stripeapi.OutcomeClientError},
		{"idempotency conflict", &stripe.Error{HTTPStatusCode: 409, Type: stripe.ErrorTypeIdempotency}, stripeapi.OutcomeClientError},
		{"rate limited", &stripe.Error{HTTPStatusCode: 429, Code: stripe.ErrorCodeRateLimit}, stripeapi.OutcomeRateLimited},
		{"stripe failed", &stripe.Error{HTTPStatusCode: 500, Type: stripe.ErrorTypeAPI}, stripeapi.OutcomeServerError},
		{"stripe unavailable", &stripe.Error{HTTPStatusCode: 503}, stripeapi.OutcomeServerError},
		{"wrapped stripe error", fmt.Errorf("charge: %w", &stripe.Error{HTTPStatusCode: 429}), stripeapi.OutcomeRateLimited},
		{"deadline", &url.Error{Op: "Post", URL: "https://api.stripe.com", Err: context.DeadlineExceeded}, stripeapi.OutcomeTimeout},
		{"client timeout", &url.Error{Op: "Post", URL: "https://api.stripe.com", Err: timeoutError{}}, stripeapi.OutcomeTimeout},
		{"canceled", &url.Error{Op: "Post", URL: "https://api.stripe.com", Err: context.Canceled}, stripeapi.OutcomeCanceled},
		{"refused", &url.Error{Op: "Post", URL: "https://api.stripe.com", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, stripeapi.OutcomeNetworkError},
		{"anything else", errors.New("unexpected EOF"), stripeapi.OutcomeNetworkError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := stripeapi.Outcome(tc.err); got != tc.want {
				t.Errorf("Outcome(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// observed is one call an observer was told of.
type observed struct{ op, outcome string }

type callRecorder struct {
	mu    sync.Mutex
	calls []observed
}

func (r *callRecorder) ObserveCall(op, outcome string, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if took < 0 {
		outcome = "negative duration"
	}
	r.calls = append(r.calls, observed{op, outcome})
}

func (r *callRecorder) take() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// TestEveryCallIsObserved sends every Gateway method to a Stripe that
// answers with one status, through stripe-go's real parsing, and checks the
// observer hears of exactly one call with the operation and its outcome.
func TestEveryCallIsObserved(t *testing.T) {
	var status int
	var mu sync.Mutex
	stripeServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := status
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		switch {
		case code == 200:
			fmt.Fprint(w, `{"object":"list","has_more":false}`)
		case code == 402:
			fmt.Fprint(w, `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}`)
		default:
			fmt.Fprintf(w, `{"error":{"type":"api_error","message":"status %d"}}`, code)
		}
	}))
	defer stripeServer.Close()
	closedPort := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()

	answers := []struct {
		name    string
		status  int
		base    string
		ctx     context.Context
		outcome string
	}{
		{"ok", 200, stripeServer.URL, context.Background(), stripeapi.OutcomeOK},
		{"card error", 402, stripeServer.URL, context.Background(), stripeapi.OutcomeCardError},
		{"client error", 400, stripeServer.URL, context.Background(), stripeapi.OutcomeClientError},
		{"rate limited", 429, stripeServer.URL, context.Background(), stripeapi.OutcomeRateLimited},
		{"server error", 500, stripeServer.URL, context.Background(), stripeapi.OutcomeServerError},
		{"deadline passed", 200, stripeServer.URL, expired, stripeapi.OutcomeTimeout},
		{"canceled", 200, stripeServer.URL, canceled, stripeapi.OutcomeCanceled},
		{"nobody listening", 200, closedPort, context.Background(), stripeapi.OutcomeNetworkError},
	}
	noRetries := int64(0)
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			mu.Lock()
			status = a.status
			mu.Unlock()
			rec := &callRecorder{}
			g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: a.base, MaxNetworkRetries: &noRetries, Observer: rec})
			for _, c := range gatewayCalls {
				c.call(a.ctx, g, stripeMockIDs) //nolint:errcheck // the observer is under test
				got := rec.take()
				if len(got) != 1 || got[0] != (observed{c.op, a.outcome}) {
					t.Errorf("%s: observed %v, want one %s %s", c.method, got, c.op, a.outcome)
				}
			}
		})
	}
}

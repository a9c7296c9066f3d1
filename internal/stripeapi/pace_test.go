package stripeapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit/stripespec"
)

// limiter is a Limiter of function fields; nil ones let everything through.
type limiter struct {
	reserve func(maxWait time.Duration) (time.Duration, error)
	mu      sync.Mutex
	pauses  []time.Duration
}

func (l *limiter) Reserve(_ context.Context, maxWait time.Duration) (time.Duration, error) {
	if l.reserve == nil {
		return 0, nil
	}
	return l.reserve(maxWait)
}

func (l *limiter) Pause(_ context.Context, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauses = append(l.pauses, d)
	return nil
}

// sent records each request's idempotency key and the status it got.
type sent struct {
	mu   sync.Mutex
	keys []string
}

func (s *sent) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost {
		s.mu.Lock()
		s.keys = append(s.keys, fmt.Sprintf("%s %d", req.Header.Get("Idempotency-Key"), res.StatusCode))
		s.mu.Unlock()
	}
	return res, err
}

// TestA429IsRetriedWithTheSameKey charges three cards at once against a
// Stripe that takes two requests a second. stripe-go retries the refused
// one, as Stripe's Stripe-Should-Retry asks, with the same idempotency key
// (the request is resent as it was), after the limiter has held everyone
// back; each charge is made once.
func TestA429IsRetriedWithTheSameKey(t *testing.T) {
	emu := stripeemu.New(stripeemu.Options{RateLimit: 2})
	srv := httptest.NewServer(stripespec.Checked(t, emu.Handler()))
	emu.SetPublicURL(srv.URL)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	rec, lim := &sent{}, &limiter{}
	retries := int64(2) // serve's setting, stripe-go's default
	g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_429", APIBase: srv.URL, MaxNetworkRetries: &retries,
		HTTPClient: &http.Client{Transport: rec}, Limiter: lim})

	ctx := context.Background()
	customer, err := g.CreateCustomer(ctx, "many@example.com", "customer-429")
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.CreateSetupSession(ctx, billing.SetupSessionParams{StripeCustomerID: customer, Currency: "usd",
		SuccessURL: "http://localhost/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "http://localhost/cancel"})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.CompleteCheckout(ctx, s.ID, stripeemu.Card{Number: "4242424242424242", Expiry: "12 / 34", CVC: "123", Name: "Many", Email: "many@example.com"}); err != nil {
		t.Fatal(err)
	}
	state, err := g.RetrieveSession(ctx, s.ID)
	if err != nil || state.PaymentMethod == nil {
		t.Fatalf("saved card: %+v %v", state, err)
	}
	time.Sleep(time.Second) // a full bucket, so that exactly the third charge below is refused
	rec.keys = nil

	var wg sync.WaitGroup
	outcomes := make([]billing.ChargeOutcome, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			outcomes[i], errs[i] = g.ChargeOffSession(ctx, billing.OffSessionCharge{AttemptID: int64(i + 1), StripeCustomerID: customer,
				PaymentMethodID: state.PaymentMethod.ID, Money: billing.Money{Amount: 1099, Currency: "usd"}, IdempotencyKey: fmt.Sprintf("charge-429-%d", i)})
		})
	}
	wg.Wait()
	pis := map[string]bool{}
	for i := range 3 {
		if errs[i] != nil || outcomes[i].Status != "succeeded" {
			t.Fatalf("charge %d: %+v %v", i, outcomes[i], errs[i])
		}
		pis[outcomes[i].PaymentIntentID] = true
	}
	if len(pis) != 3 {
		t.Errorf("three charges made %d PaymentIntents", len(pis))
	}
	rec.mu.Lock()
	log := strings.Join(rec.keys, "\n")
	rec.mu.Unlock()
	retried := ""
	for _, k := range rec.keys {
		if key, ok := strings.CutSuffix(k, " 429"); ok && strings.Contains(log, key+" 200") {
			retried = key
		}
	}
	if retried == "" || len(rec.keys) < 4 {
		t.Fatalf("no charge was refused and then sent again with its key:\n%s", log)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if len(lim.pauses) == 0 || lim.pauses[0] != stripeapi.RateLimitPause {
		t.Errorf("the 429 held nobody back: pauses %v", lim.pauses)
	}
}

// TestAPacedRequestKeepsItsDeadline: a slot beyond the call's deadline is
// not waited for, and the request is not sent.
func TestAPacedRequestKeepsItsDeadline(t *testing.T) {
	var reached bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	t.Cleanup(srv.Close)
	booked := errors.New("booked")
	var gotMaxWait time.Duration
	lim := &limiter{reserve: func(maxWait time.Duration) (time.Duration, error) {
		gotMaxWait = maxWait
		return 0, booked
	}}
	none := int64(0)
	g := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_deadline", APIBase: srv.URL, Timeout: 2 * time.Second, MaxNetworkRetries: &none, Limiter: lim})
	_, err := g.CreateCustomer(context.Background(), "late@example.com", "late-key")
	if !errors.Is(err, booked) || reached {
		t.Fatalf("err %v, request sent %v", err, reached)
	}
	if gotMaxWait <= 0 || gotMaxWait > 2*time.Second {
		t.Errorf("the limiter was asked for a slot within %v, want the call's 2 s budget", gotMaxWait)
	}
}

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/stripeemu"
)

// stripeAt is the emulator enforcing perSecond requests a second, as
// Stripe's limiter does, and a count of the requests it refused.
func stripeAt(t *testing.T, perSecond float64) (string, *atomic.Int32) {
	t.Helper()
	emu := stripeemu.New(stripeemu.Options{RateLimit: perSecond})
	var refused atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		emu.Handler().ServeHTTP(rec, r)
		if rec.Code == http.StatusTooManyRequests {
			refused.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()) //nolint:errcheck
	}))
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return srv.URL, &refused
}

// burst makes calls Stripe calls from 10 goroutines through g and returns
// the errors.
func burst(g *stripeapi.Gateway, prefix string, calls int) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next atomic.Int32
	)
	for range 10 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if int(i) > calls {
					return
				}
				if _, err := g.CreateCustomer(context.Background(), fmt.Sprintf("%s%d@example.com", prefix, i), fmt.Sprintf("%s-key-%d", prefix, i)); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// TestTwoReplicasShareOneStripeRate runs two replicas, each with its own
// pool and gateway, on one database, against a Stripe that refuses more
// than 20 requests a second. Sharing the schedule, both together send 60
// requests and none is refused (stripe-go's retries are off, so a 429
// would show); pacing each on a schedule of its own, at the same 20 a
// second, together they go over, and Stripe refuses some.
func TestTwoReplicasShareOneStripeRate(t *testing.T) {
	_, url := pg.NewDBWithURL(t)
	replica := func() *postgres.DB {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	a, b := replica(), replica()
	noRetries := int64(0)
	gateway := func(base string, limiter stripeapi.Limiter) *stripeapi.Gateway {
		return stripeapi.New(stripeapi.Config{SecretKey: "sk_test_replicas", APIBase: base, MaxNetworkRetries: &noRetries, Limiter: limiter})
	}
	run := func(t *testing.T, nameA, nameB string) (refused int32, errs []error) {
		base, count := stripeAt(t, 20)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i, g := range []*stripeapi.Gateway{gateway(base, a.RateLimit(nameA, 20)), gateway(base, b.RateLimit(nameB, 20))} {
			wg.Go(func() {
				e := burst(g, fmt.Sprintf("r%d-", i), 30)
				mu.Lock()
				errs = append(errs, e...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return count.Load(), errs
	}

	t.Run("shared", func(t *testing.T) {
		if refused, errs := run(t, "stripe", "stripe"); refused != 0 || len(errs) != 0 {
			t.Fatalf("sharing one schedule, Stripe refused %d requests; errors %v", refused, errs)
		}
	})
	t.Run("apart", func(t *testing.T) {
		refused, errs := run(t, "stripe-a", "stripe-b")
		if refused == 0 {
			t.Fatal("two replicas pacing apart at the limit each were never refused: the shared test proves nothing")
		}
		var ge *billing.GatewayError
		if len(errs) == 0 || !errors.As(errs[0], &ge) || ge.HTTPStatus != http.StatusTooManyRequests || ge.Code != "rate_limit" {
			t.Fatalf("refusals came back as %v", errs)
		}
	})
}

// TestRateLimitWaitsItsTurn checks the schedule itself: slots one interval
// apart, none taken beyond the caller's wait, and a pause that holds
// everyone back. (Bounds leave 300 ms for a slow machine between calls.)
func TestRateLimitWaitsItsTurn(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	l := db.RateLimit("test", 1)
	var waits []time.Duration
	for range 3 {
		d, err := l.Reserve(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	near := func(d, want time.Duration) bool { return d <= want && d > want-300*time.Millisecond }
	if !near(waits[0], 0) || !near(waits[1], time.Second) || !near(waits[2], 2*time.Second) {
		t.Errorf("three slots at once are %v from now; want 0, 1 s and 2 s", waits)
	}
	if _, err := l.Reserve(ctx, time.Second); !errors.Is(err, postgres.ErrRateBooked) {
		t.Errorf("a slot beyond the caller's wait: %v, want ErrRateBooked", err)
	}
	if d, err := l.Reserve(ctx, time.Minute); err != nil || !near(d, 3*time.Second) {
		t.Errorf("after a refusal the next slot is %v away (%v), want 3 s: the refusal took one", d, err)
	}
	if err := l.Pause(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Reserve(ctx, time.Minute); err != nil || !near(d, 10*time.Second) {
		t.Errorf("after a pause of 10 s the next slot is %v away (%v)", d, err)
	}
	if d, err := db.RateLimit("other", 1).Reserve(ctx, time.Minute); err != nil || !near(d, 0) {
		t.Errorf("another limit shares the schedule: its slot is %v away (%v)", d, err)
	}
}

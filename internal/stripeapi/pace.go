package stripeapi

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"
)

// Limiter spaces the Stripe requests of every process that shares it, so
// that together they stay under one rate (internal/postgres keeps the
// schedule in the database all replicas use).
type Limiter interface {
	// Reserve takes the next free slot and returns how long until it comes.
	// It takes none, and fails, when the slot would come later than maxWait.
	Reserve(ctx context.Context, maxWait time.Duration) (time.Duration, error)
	// Pause holds every sharer's requests back until d from now.
	Pause(ctx context.Context, d time.Duration) error
}

// RateLimitPause is how long every replica holds back after Stripe answers
// 429: Stripe counts requests per second, so a second clears the window.
const RateLimitPause = time.Second

// pacedTransport sends each HTTP request, stripe-go's own retries included,
// in a slot of the shared schedule, and holds every replica back when
// Stripe answers 429 all the same (another client of the account, a lower
// limit than STRIPE_RATE_LIMIT says, or one of Stripe's lock timeouts).
type pacedTransport struct {
	base    http.RoundTripper
	limiter Limiter
	log     *slog.Logger
}

func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := t.wait(ctx); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	res, err := t.base.RoundTrip(req)
	if err == nil && res.StatusCode == http.StatusTooManyRequests {
		t.log.Warn("stripe answered 429: every replica holds back", "pause", RateLimitPause.String(),
			"path", req.URL.Path, "stripe_request_id", res.Header.Get("Request-Id"))
		if perr := t.limiter.Pause(context.WithoutCancel(ctx), RateLimitPause); perr != nil {
			t.log.Error("hold back stripe requests", "err", perr)
		}
	}
	return res, err
}

// wait takes a slot no later than the request's deadline and waits for it.
func (t *pacedTransport) wait(ctx context.Context) error {
	maxWait := time.Duration(math.MaxInt64)
	if deadline, ok := ctx.Deadline(); ok {
		maxWait = time.Until(deadline)
	}
	d, err := t.limiter.Reserve(ctx, maxWait)
	if err != nil {
		return fmt.Errorf("pace stripe request: %w", err)
	}
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pace stripe request: %w", ctx.Err())
	}
}

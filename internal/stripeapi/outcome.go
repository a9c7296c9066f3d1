package stripeapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// CallObserver is told how each Stripe call ended (metrics). It is called on
// the caller's goroutine and must be quick.
type CallObserver interface {
	// ObserveCall reports one call: its operation (an Op constant), its
	// outcome (an Outcome constant) and how long it took, retries included.
	ObserveCall(op, outcome string, took time.Duration)
}

// Outcomes of a Stripe call, a small fixed set so that they can label metrics.
const (
	OutcomeOK = "ok"
	// OutcomeCardError: the card was declined or needs authentication (402).
	OutcomeCardError = "card_error"
	// OutcomeClientError: Stripe refused the request itself (another 4xx):
	// a bug, a bad key, or an object that does not exist.
	OutcomeClientError = "client_error"
	// OutcomeRateLimited: Stripe's rate limit (429).
	OutcomeRateLimited = "rate_limited"
	// OutcomeServerError: Stripe failed (5xx).
	OutcomeServerError = "server_error"
	// OutcomeTimeout: no answer in time, the outcome unknown.
	OutcomeTimeout = "timeout"
	// OutcomeNetworkError: no answer for another reason (refused, reset, DNS).
	OutcomeNetworkError = "network_error"
	// OutcomeCanceled: our side gave up first (the client went away).
	OutcomeCanceled = "canceled"
)

// Outcome classifies the error a stripe-go call returned.
func Outcome(err error) string {
	if err == nil {
		return OutcomeOK
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		switch status := se.HTTPStatusCode; {
		case se.Type == stripe.ErrorTypeCard || status == http.StatusPaymentRequired:
			return OutcomeCardError
		case status == http.StatusTooManyRequests:
			return OutcomeRateLimited
		case status >= 400 && status < 500:
			return OutcomeClientError
		case status >= 500:
			return OutcomeServerError
		}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeNetworkError
}

package stripeapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/storefront/storefront/internal/billing"
)

// SignatureTolerance is how old a webhook's signed timestamp may be, which
// bounds replays of a captured delivery.
const SignatureTolerance = 5 * time.Minute

// ErrBadSignature is a webhook whose Stripe-Signature does not verify.
var ErrBadSignature = errors.New("bad webhook signature")

// WebhookVerifier checks Stripe-Signature headers with an endpoint secret.
type WebhookVerifier struct {
	secret string
}

// NewWebhookVerifier returns a verifier for the endpoint's signing secret.
func NewWebhookVerifier(secret string) *WebhookVerifier {
	return &WebhookVerifier{secret: secret}
}

// Verify checks the signature of payload and parses the event. An event
// from another API version is accepted: its objects are read back through
// the pinned version when their fields matter.
func (v *WebhookVerifier) Verify(payload []byte, signature string) (billing.Event, error) {
	if v.secret == "" {
		return billing.Event{}, fmt.Errorf("%w: no signing secret configured", ErrBadSignature)
	}
	if err := checkNotFromTheFuture(signature, time.Now()); err != nil {
		return billing.Event{}, err
	}
	e, err := webhook.ConstructEventWithOptions(payload, signature, v.secret, webhook.ConstructEventOptions{
		Tolerance:                SignatureTolerance,
		IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		return billing.Event{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	event := billing.Event{
		ID:         e.ID,
		Type:       string(e.Type),
		APIVersion: e.APIVersion,
		Created:    time.Unix(e.Created, 0).UTC(),
		ObjectID:   objectID(&e),
		Payload:    payload, // the raw body, exactly as signed
	}
	if err := event.Malformed(); err != nil {
		return billing.Event{}, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	return event, nil
}

// ErrMalformedEvent is a signed event the ledger could never store.
var ErrMalformedEvent = errors.New("malformed webhook event")

// checkNotFromTheFuture refuses a signature timestamped later than the
// tolerance allows for clock skew: stripe-go checks only its age, so a
// future timestamp would make a captured delivery replayable for longer.
func checkNotFromTheFuture(header string, now time.Time) error {
	for part := range strings.SplitSeq(header, ",") {
		value, ok := strings.CutPrefix(strings.TrimSpace(part), "t=")
		if !ok {
			continue
		}
		t, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: unreadable timestamp", ErrBadSignature)
		}
		if time.Unix(t, 0).After(now.Add(SignatureTolerance)) {
			return fmt.Errorf("%w: timestamp in the future", ErrBadSignature)
		}
	}
	return nil
}

// APIVersion is the Stripe API version this build is pinned to.
const APIVersion = stripe.APIVersion

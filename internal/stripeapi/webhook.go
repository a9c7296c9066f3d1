package stripeapi

import (
	"errors"
	"fmt"
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
	e, err := webhook.ConstructEventWithOptions(payload, signature, v.secret, webhook.ConstructEventOptions{
		Tolerance:                SignatureTolerance,
		IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		return billing.Event{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if e.ID == "" || e.Type == "" {
		return billing.Event{}, fmt.Errorf("%w: event without id or type", ErrBadSignature)
	}
	return billing.Event{
		ID:         e.ID,
		Type:       string(e.Type),
		APIVersion: e.APIVersion,
		Created:    time.Unix(e.Created, 0).UTC(),
		ObjectID:   objectID(&e),
		Payload:    payload, // the raw body, exactly as signed
	}, nil
}

// APIVersion is the Stripe API version this build is pinned to.
const APIVersion = stripe.APIVersion

package stripeapi

import (
	"encoding/json"
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
	// The signature alone, then one lean parse: stripe-go's ConstructEvent
	// would also decode data.object into a map, twice, for fields the store
	// never reads from a payload (it reads objects back from Stripe).
	if err := webhook.ValidatePayloadWithTolerance(payload, signature, v.secret, SignatureTolerance); err != nil {
		return billing.Event{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	event, err := parseEvent(payload)
	if err != nil {
		return billing.Event{}, fmt.Errorf("%w: failed to parse webhook body json: %v", ErrBadSignature, err)
	}
	if err := event.Malformed(); err != nil {
		return billing.Event{}, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	return event, nil
}

// eventEnvelope is the part of an event the ledger keeps in columns.
type eventEnvelope struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       *struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// parseEvent reads a verified event's envelope and its object's id, refusing
// what stripe-go's parser refuses: a data without an object, or an object
// that is not a JSON object. An id that is not a string is no id.
func parseEvent(payload []byte) (billing.Event, error) {
	var env eventEnvelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return billing.Event{}, err
	}
	var objectID string
	if env.Data != nil {
		if env.Data.Object == nil {
			return billing.Event{}, errors.New("data has no object")
		}
		// A map, not a struct: its keys match exactly, as stripe-go's do.
		var object map[string]json.RawMessage
		if err := json.Unmarshal(env.Data.Object, &object); err != nil {
			return billing.Event{}, err
		}
		if id, ok := object["id"]; ok && len(id) > 0 && id[0] == '"' {
			if err := json.Unmarshal(id, &objectID); err != nil {
				return billing.Event{}, err
			}
		}
	}
	return billing.Event{
		ID:         env.ID,
		Type:       env.Type,
		APIVersion: env.APIVersion,
		Created:    time.Unix(env.Created, 0).UTC(),
		ObjectID:   objectID,
		Payload:    payload, // the raw body, exactly as signed
	}, nil
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

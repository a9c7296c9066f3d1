package billing

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// Event is a verified Stripe event as delivered to the webhook or listed by
// Stripe. Payload is the raw JSON, kept as received.
type Event struct {
	ID         string
	Type       string
	APIVersion string
	Created    time.Time
	// ObjectID is the id of the event's data.object.
	ObjectID string
	Payload  []byte
}

// StoredEvent is an event in the ledger with what became of it.
type StoredEvent struct {
	Event
	ReceivedAt time.Time
	AppliedAt  time.Time // zero until applied
	Attempts   int
	LastError  string
	// CustomerID is the customer the event was filed under (0 for none),
	// CustomerEmail their email, as the lists show it.
	CustomerID    int64
	CustomerEmail string
}

// ErrAlreadyApplied is returned by Store.Apply for an event applied before.
var ErrAlreadyApplied = errors.New("event already applied")

// Event types the store acts on; every other type is stored and ignored.
const (
	EventCheckoutSessionCompleted = "checkout.session.completed"
	EventCheckoutSessionExpired   = "checkout.session.expired"
	// The two outcomes of a session completed with a payment still
	// processing (an asynchronous method; cards are pinned, so a rare path).
	EventCheckoutSessionAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded"
	EventCheckoutSessionAsyncPaymentFailed    = "checkout.session.async_payment_failed"
	// EventCustomerDeleted retires a Stripe Customer id for good.
	EventCustomerDeleted                   = "customer.deleted"
	EventSetupIntentSucceeded              = "setup_intent.succeeded"
	EventSetupIntentSetupFailed            = "setup_intent.setup_failed"
	EventPaymentMethodAttached             = "payment_method.attached"
	EventPaymentMethodDetached             = "payment_method.detached"
	EventPaymentMethodUpdated              = "payment_method.updated"
	EventPaymentMethodAutomaticallyUpdated = "payment_method.automatically_updated"
	EventPaymentIntentSucceeded            = "payment_intent.succeeded"
	EventPaymentIntentPaymentFailed        = "payment_intent.payment_failed"
	// Refunds, made here or on Stripe's dashboard.
	EventChargeRefunded = "charge.refunded"
	EventRefundCreated  = "refund.created"
	EventRefundUpdated  = "refund.updated"
	EventRefundFailed   = "refund.failed"
)

// HandledEventTypes returns the types sync asks Stripe for.
func HandledEventTypes() []string {
	return []string{
		EventCheckoutSessionCompleted, EventCheckoutSessionExpired,
		EventCheckoutSessionAsyncPaymentSucceeded, EventCheckoutSessionAsyncPaymentFailed,
		EventCustomerDeleted,
		EventSetupIntentSucceeded, EventSetupIntentSetupFailed,
		EventPaymentMethodAttached, EventPaymentMethodDetached,
		EventPaymentMethodUpdated, EventPaymentMethodAutomaticallyUpdated,
		EventPaymentIntentSucceeded, EventPaymentIntentPaymentFailed,
		EventChargeRefunded, EventRefundCreated, EventRefundUpdated, EventRefundFailed,
	}
}

var (
	eventTypePattern  = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+){1,5}$`)
	apiVersionPattern = regexp.MustCompile(`^[0-9a-z._-]{0,64}$`)
	objectIDPattern   = regexp.MustCompile(`^[a-z]+_[A-Za-z0-9_]{1,250}$`)
)

// Malformed tells why an event can never be stored, or nil. Stripe sends
// none of these; answering them 400 stops a retry loop that a 5xx would
// start, since the ledger refuses them every time.
func (e Event) Malformed() error {
	switch {
	case !ValidEventID(e.ID):
		return fmt.Errorf("event id %.64q is malformed", e.ID)
	case !eventTypePattern.MatchString(e.Type) || len(e.Type) > 128:
		return fmt.Errorf("event type %.64q is malformed", e.Type)
	case !apiVersionPattern.MatchString(e.APIVersion):
		return fmt.Errorf("api_version %.64q is malformed", e.APIVersion)
	case e.ObjectID != "" && !objectIDPattern.MatchString(e.ObjectID):
		return fmt.Errorf("data.object.id %.64q is malformed", e.ObjectID)
	case !utf8.Valid(e.Payload) || bytes.IndexByte(e.Payload, 0) >= 0:
		return errors.New("payload is not valid UTF-8 text")
	}
	return nil
}

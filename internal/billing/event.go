package billing

import (
	"errors"
	"time"
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
}

// ErrAlreadyApplied is returned by Store.Apply for an event applied before.
var ErrAlreadyApplied = errors.New("event already applied")

// Event types the store acts on; every other type is stored and ignored.
const (
	EventCheckoutSessionCompleted          = "checkout.session.completed"
	EventCheckoutSessionExpired            = "checkout.session.expired"
	EventSetupIntentSucceeded              = "setup_intent.succeeded"
	EventSetupIntentSetupFailed            = "setup_intent.setup_failed"
	EventPaymentMethodAttached             = "payment_method.attached"
	EventPaymentMethodDetached             = "payment_method.detached"
	EventPaymentMethodUpdated              = "payment_method.updated"
	EventPaymentMethodAutomaticallyUpdated = "payment_method.automatically_updated"
	EventPaymentIntentSucceeded            = "payment_intent.succeeded"
	EventPaymentIntentPaymentFailed        = "payment_intent.payment_failed"
)

// HandledEventTypes returns the types sync asks Stripe for.
func HandledEventTypes() []string {
	return []string{
		EventCheckoutSessionCompleted, EventCheckoutSessionExpired,
		EventSetupIntentSucceeded, EventSetupIntentSetupFailed,
		EventPaymentMethodAttached, EventPaymentMethodDetached,
		EventPaymentMethodUpdated, EventPaymentMethodAutomaticallyUpdated,
		EventPaymentIntentSucceeded, EventPaymentIntentPaymentFailed,
	}
}

package billing

import (
	"context"
	"time"
)

// Store keeps the store's state. Implementations make each method atomic.
type Store interface {
	// CustomerByEmail returns the customer with this normalised email, or ErrNotFound.
	CustomerByEmail(ctx context.Context, email string) (Customer, error)
	// EnsureStripeCustomer returns the customer with this email, creating the
	// row if needed and, when it has no Stripe Customer yet, calling create
	// with CustomerIdempotencyKey(email) while holding a lock on the row, so
	// that concurrent callers make one Stripe Customer. If create fails,
	// nothing is written. create must not use the Store.
	EnsureStripeCustomer(ctx context.Context, email string, create func(ctx context.Context, email, idempotencyKey string) (string, error)) (Customer, error)
	// CreateCheckoutSession records a session Stripe created.
	CreateCheckoutSession(ctx context.Context, s CheckoutSession) error
	// CheckoutSession returns a recorded session, or ErrNotFound.
	CheckoutSession(ctx context.Context, id string) (CheckoutSession, error)
	// Apply writes an effect in one transaction. With an eventID, the event's
	// applied mark is written in the same transaction, and an event already
	// applied is skipped (ErrAlreadyApplied) unless reapply is set. Every
	// write is an upsert or a guarded update, so concurrent and repeated runs
	// converge on one row per object.
	Apply(ctx context.Context, eventID string, effect Effect, reapply bool) error
	// RecordEvent stores a verified event unless its id is known, and tells
	// whether it has been applied already.
	RecordEvent(ctx context.Context, e Event) (applied bool, err error)
	// RecordAppliedEvent stores a new event and its effect in one
	// transaction, as applied. It returns false, writing nothing, when the
	// event is already in the ledger.
	RecordAppliedEvent(ctx context.Context, e Event, effect Effect) (inserted bool, err error)
	// EventFailed records why applying an event failed, for a later retry.
	EventFailed(ctx context.Context, id string, reason string) error
	// StoredEvent returns an event from the ledger, or ErrNotFound.
	StoredEvent(ctx context.Context, id string) (StoredEvent, error)
	// SessionPaymentMethod returns the payment method a completed setup
	// session saved, or ErrNotFound.
	SessionPaymentMethod(ctx context.Context, sessionID string) (PaymentMethod, error)
	// ListPaymentMethods returns saved payment methods, newest first.
	ListPaymentMethods(ctx context.Context, q ListQuery) ([]SavedPaymentMethod, error)
	// Ping tells whether the store can be reached.
	Ping(ctx context.Context) error
}

// ListQuery selects a page of saved payment methods. Before, when set, is the
// keyset cursor: only rows saved before it (ties broken by id) are returned.
type ListQuery struct {
	Limit    int
	Before   time.Time
	BeforeID string
}

// Gateway is the part of Stripe the store uses.
type Gateway interface {
	// CreateCustomer creates a Stripe Customer and returns its id.
	CreateCustomer(ctx context.Context, email, idempotencyKey string) (string, error)
	// CreateSetupSession creates a Checkout Session in setup mode.
	CreateSetupSession(ctx context.Context, p SetupSessionParams) (CheckoutSession, error)
	// SetupSession retrieves a setup-mode Checkout Session with its
	// SetupIntent and PaymentMethod, in one call.
	SetupSession(ctx context.Context, id string) (SetupSessionState, error)
	// AttachPaymentMethod attaches a payment method to a Stripe Customer.
	AttachPaymentMethod(ctx context.Context, paymentMethodID, stripeCustomerID string) error
	// SetupIntent retrieves a SetupIntent with its payment method and customer.
	SetupIntent(ctx context.Context, id string) (SetupIntentState, error)
	// PaymentMethod retrieves a payment method with its customer.
	PaymentMethod(ctx context.Context, id string) (PaymentMethodState, error)
	// Event retrieves one event.
	Event(ctx context.Context, id string) (Event, error)
	// ListEvents lists the events of these types created since then, oldest first.
	ListEvents(ctx context.Context, since time.Time, types []string) ([]Event, error)
}

// SetupIntentState is a SetupIntent as read from Stripe, with what it refers to.
type SetupIntentState struct {
	SetupIntent   SetupIntent
	PaymentMethod *PaymentMethod
	Customer      *StripeCustomer
}

// PaymentMethodState is a payment method as read from Stripe, with its customer.
type PaymentMethodState struct {
	PaymentMethod PaymentMethod
	Customer      *StripeCustomer
}

// SetupSessionParams are the inputs of a setup-mode Checkout Session.
type SetupSessionParams struct {
	StripeCustomerID string
	Currency         string
	SuccessURL       string
	CancelURL        string
	IdempotencyKey   string
}

// SetupSessionState is what Stripe says of a setup-mode Checkout Session at
// the moment it is asked. PaymentMethod is nil until the SetupIntent has one.
type SetupSessionState struct {
	ID                string
	Mode              string
	Status            string
	Currency          string
	StripeCustomerID  string
	Email             string
	SetupIntentID     string
	SetupIntentStatus string
	PaymentMethod     *PaymentMethod
	// SyncedAt is when Stripe was asked.
	SyncedAt time.Time
}

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
	// RecordSetup records a completed setup session in one transaction: the
	// payment method, the SetupIntent and the session's completion. It is
	// idempotent: running it again changes nothing.
	RecordSetup(ctx context.Context, r SetupRecord) error
	// SessionPaymentMethod returns the payment method a completed setup
	// session saved, or ErrNotFound.
	SessionPaymentMethod(ctx context.Context, sessionID string) (PaymentMethod, error)
	// ListPaymentMethods returns saved payment methods, newest first.
	ListPaymentMethods(ctx context.Context, q ListQuery) ([]SavedPaymentMethod, error)
	// Ping tells whether the store can be reached.
	Ping(ctx context.Context) error
}

// SetupRecord is what a completed setup-mode Checkout Session leaves behind.
type SetupRecord struct {
	SessionID     string
	CustomerID    int64
	SetupIntent   SetupIntent
	PaymentMethod PaymentMethod
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
	StripeCustomerID  string
	Email             string
	SetupIntentID     string
	SetupIntentStatus string
	PaymentMethod     *PaymentMethod
}

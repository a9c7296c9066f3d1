// Package billing is the domain of the store: customers, the cards they save
// through Stripe Checkout, and the flows that record them. It depends on
// nothing else of this module; storage and Stripe are reached through the
// Store and Gateway interfaces that adapters implement.
package billing

import "time"

// Customer is a person who saved, or started to save, a card. StripeID is empty
// until the Stripe Customer has been created.
type Customer struct {
	ID        int64
	Email     string
	StripeID  string
	CreatedAt time.Time
}

// Session modes and statuses, as Stripe names them.
const (
	ModeSetup   = "setup"
	ModePayment = "payment"

	SessionOpen     = "open"
	SessionComplete = "complete"
	SessionExpired  = "expired"
)

// CheckoutSession is a Stripe Checkout Session this store created.
// CustomerID is zero for a session created without a customer.
type CheckoutSession struct {
	ID            string
	CustomerID    int64
	Mode          string
	Status        string
	Currency      string
	URL           string
	SetupIntentID string
	CreatedAt     time.Time
	CompletedAt   time.Time
}

// SetupIntent statuses that matter to the store.
const (
	SetupIntentSucceeded = "succeeded"
)

// SetupIntent is Stripe's record of setting up a payment method for later use.
type SetupIntent struct {
	ID               string
	CustomerID       int64
	StripeCustomerID string
	PaymentMethodID  string
	Status           string
	LastErrorCode    string
	// SyncedAt is when this state was read from Stripe: the watermark that
	// keeps an older read from overwriting a newer one.
	SyncedAt time.Time
}

// Payment method statuses.
const (
	PaymentMethodActive   = "active"
	PaymentMethodDetached = "detached"
)

// PaymentMethod is a saved card (or another payment method type) as Stripe
// describes it. StripeCustomerID is the Stripe Customer it is attached to, if
// any; CustomerID is our customer once known.
type PaymentMethod struct {
	ID               string
	CustomerID       int64
	StripeCustomerID string
	Type             string
	Brand            string
	Last4            string
	ExpMonth         int
	ExpYear          int
	Fingerprint      string
	Status           string
	CreatedAt        time.Time
	SavedAt          time.Time
	// SyncedAt is when this state was read from Stripe (see SetupIntent.SyncedAt).
	SyncedAt time.Time
}

// StripeCustomer is a Stripe Customer as Stripe describes it.
type StripeCustomer struct {
	ID    string
	Email string
}

// SavedPaymentMethod is a payment method with the customer it belongs to, as
// the admin list shows it.
type SavedPaymentMethod struct {
	PaymentMethod
	CustomerEmail string
}

// Package billing is the domain of the store: customers, the cards they save
// through Stripe Checkout, and the flows that record them. It depends on
// nothing else of this module; storage and Stripe are reached through the
// Store and Gateway interfaces that adapters implement.
package billing

import "time"

// Customer is a person who saved, or started to save, a card. StripeID is empty
// until the Stripe Customer has been created.
type Customer struct {
	ID                     int64
	Email                  string
	StripeID               string
	DefaultPaymentMethodID string
	CreatedAt              time.Time
	// StripeGeneration counts the Stripe Customers deleted under this
	// customer; it keeps the next create call from replaying a deleted one.
	StripeGeneration int
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
	ExpiresAt     time.Time
	CreatedAt     time.Time
	CompletedAt   time.Time
	// MakesDefault marks a setup session opened from a card expiry
	// reminder: the card saved through it becomes the customer's default.
	MakesDefault bool
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
	// Failing tells whether the card's latest charge was declined or asked
	// for authentication; LastFailureCode and LastDeclineCode are its codes.
	// Read only: they follow from the charge attempts.
	Failing                          bool
	LastFailureCode, LastDeclineCode string
}

// FailureReason says in plain words why the card's latest charge failed;
// "" unless it is failing.
func (pm PaymentMethod) FailureReason() string {
	if !pm.Failing {
		return ""
	}
	return DeclineReason(pm.LastFailureCode, pm.LastDeclineCode)
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

// Charge attempt statuses, the words the admin sees.
const (
	ChargeProcessing             = "processing"
	ChargeSucceeded              = "succeeded"
	ChargeDeclined               = "declined"
	ChargeAuthenticationRequired = "authentication_required"
	// ChargeFailed is a charge Stripe refused for a reason other than the
	// card (an invalid request): retrying it would fail the same way.
	ChargeFailed    = "failed"
	ChargeRecovered = "recovered"
)

// ChargeAttempt is one off-session charge of a saved card, and its recovery.
type ChargeAttempt struct {
	ID               int64
	CustomerID       int64
	CustomerEmail    string
	StripeCustomerID string
	PaymentMethodID  string
	// CardType, CardBrand and CardLast4 name the card charged, for people.
	CardType          string
	CardBrand         string
	CardLast4         string
	Money             Money
	IdempotencyKey    string
	Status            string
	PaymentIntentID   string
	FailureCode       string
	DeclineCode       string
	FailureMessage    string
	RecoverySessionID string
	// RecoveredPaymentIntentID is the PaymentIntent that paid a recovered attempt.
	RecoveredPaymentIntentID string
	RecoveredAt              time.Time
	CreatedAt                time.Time
	// DuplicatePayments counts payments that arrived after the attempt was
	// paid; DuplicatesRefunded, those of them refunded on Stripe so far.
	DuplicatePayments  int
	DuplicatesRefunded int
	// Description says what the charge is for ("Order #1042"); it reaches
	// the PaymentIntent, the customer's email and the recovery session.
	Description string
	// WithdrawnAt is when the store stopped asking for a failed charge (its
	// order was canceled): the recovery link no longer works.
	WithdrawnAt time.Time
	// Refunded is what has been refunded of the payment, as far as we know:
	// refunds made here and succeeded, or what Stripe last said
	// (charge.refunded) if that is more.
	Refunded int64
	// RetryOf is the soft-declined attempt this one retries automatically
	// (its RetryNumber-th retry); zero for a charge someone asked for.
	RetryOf     int64
	RetryNumber int
	// Dunning is the automatic retrying of this attempt, if it was soft-declined.
	Dunning Dunning
}

// PaidPaymentIntentID is the PaymentIntent whose payment settled the
// attempt: the charge itself, or the recovery payment. Empty while unpaid.
func (a ChargeAttempt) PaidPaymentIntentID() string {
	switch a.Status {
	case ChargeSucceeded:
		return a.PaymentIntentID
	case ChargeRecovered:
		return a.RecoveredPaymentIntentID
	}
	return ""
}

// Refundable is what can still be refunded of a paid attempt.
func (a ChargeAttempt) Refundable() int64 {
	if !a.Paid() {
		return 0
	}
	return max(a.Money.Amount-a.Refunded, 0)
}

// LineItem is one line of what a charge pays for, as Checkout shows it.
type LineItem struct {
	Name       string
	UnitAmount int64
	Quantity   int64
}

// Refund statuses of a ChargeRefund, as Stripe names them.
const (
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
	RefundCanceled  = "canceled"
)

// ChargeRefund is a refund of a paid attempt: made here, or on Stripe's
// side and learnt from its events. A pending one made here holds its
// amount against what is left to refund.
type ChargeRefund struct {
	ID              int64
	AttemptID       int64
	PaymentIntentID string
	Money           Money
	Status          string
	IdempotencyKey  string
	RefundID        string
	FailureMessage  string
	CreatedAt       time.Time
}

// MadeOnStripe tells whether the refund was made outside this store (the
// Stripe Dashboard), known only from Stripe's events.
func (r ChargeRefund) MadeOnStripe() bool { return r.IdempotencyKey == "" }

// Paid tells whether the attempt's money has been received: charged, or paid
// through the recovery link. Any further payment for it is refunded.
func (a ChargeAttempt) Paid() bool {
	return a.Status == ChargeSucceeded || a.Status == ChargeRecovered
}

// outcome is the attempt's recorded answer from Stripe.
func (a ChargeAttempt) outcome() ChargeOutcome {
	return ChargeOutcome{PaymentIntentID: a.PaymentIntentID, Code: a.FailureCode, DeclineCode: a.DeclineCode, Message: a.FailureMessage}
}

// ProcessingAtStripe tells whether Stripe answered and said the payment is
// still processing (a PaymentIntent in status processing), as opposed to a
// processing attempt whose answer never arrived. Its outcome comes by webhook.
func (a ChargeAttempt) ProcessingAtStripe() bool {
	return a.Status == ChargeProcessing && a.PaymentIntentID != ""
}

// Recovery refund statuses.
const (
	RefundPending  = "pending"
	RefundRefunded = "refunded"
)

// RecoveryRefund is a payment that arrived for an attempt already paid
// through another PaymentIntent (a second recovery session, paid before it
// could be expired). It is refunded automatically and shown, never kept.
type RecoveryRefund struct {
	ID              int64
	ChargeAttemptID int64
	SessionID       string
	PaymentIntentID string
	Money           Money
	Status          string
	RefundID        string
	Attempts        int
	LastError       string
	CreatedAt       time.Time
	RefundedAt      time.Time
}

// Recoverable tells whether the customer can still pay this attempt through a recovery link.
func (a ChargeAttempt) Recoverable() bool {
	return a.Failed() && a.WithdrawnAt.IsZero()
}

// FailureReason says in plain words why the charge did not go through
// (kept once it is recovered); "" when Stripe gave no failure.
func (a ChargeAttempt) FailureReason() string {
	if a.FailureCode == "" && a.DeclineCode == "" {
		return ""
	}
	if a.Status == ChargeFailed {
		return "Stripe refused the request itself, not the card"
	}
	return DeclineReason(a.FailureCode, a.DeclineCode)
}

// Failed tells whether the card refused the charge (declined, or its bank
// asked for authentication): the cases a recovery link is sent for.
func (a ChargeAttempt) Failed() bool {
	return a.Status == ChargeDeclined || a.Status == ChargeAuthenticationRequired
}

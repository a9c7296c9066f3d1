package billing

// Effect is what applying a Stripe event, or finalizing a session, writes:
// the store writes all of it, and the event's "applied" mark, in one
// transaction. Objects are keyed by their Stripe ids; the store maps Stripe
// Customers to ours.
type Effect struct {
	// Customers are Stripe Customers to know locally before anything refers to them.
	Customers []StripeCustomer
	// PaymentMethods are upserted unless the row holds a newer read (SyncedAt).
	PaymentMethods []PaymentMethod
	// GonePaymentMethods no longer exist on Stripe: they are marked detached.
	GonePaymentMethods []string
	// SetupIntents are upserted unless the row holds a newer read.
	SetupIntents []SetupIntent
	// CompletedSessions are recorded (or created) as complete.
	CompletedSessions []CompletedSession
	// ExpiredSessions are marked expired if still open.
	ExpiredSessions []string
	// StripeCustomerID, when known, files the event under that customer.
	StripeCustomerID string
}

// CompletedSession is a Checkout Session Stripe reports complete.
type CompletedSession struct {
	ID               string
	Mode             string
	Currency         string
	StripeCustomerID string
	SetupIntentID    string
}

// Empty tells whether the effect writes nothing but the applied mark.
func (e Effect) Empty() bool {
	return len(e.Customers) == 0 && len(e.PaymentMethods) == 0 && len(e.GonePaymentMethods) == 0 &&
		len(e.SetupIntents) == 0 && len(e.CompletedSessions) == 0 && len(e.ExpiredSessions) == 0
}

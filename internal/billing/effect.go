package billing

import "context"

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
	// ChargeUpdates settle attempts still processing.
	ChargeUpdates []ChargeUpdate
	// Recoveries mark failed attempts paid through their recovery link.
	Recoveries []Recovery
	// DeletedCustomers are Stripe Customers deleted on Stripe: their ids are
	// unlinked for good and their cards marked detached.
	DeletedCustomers []string
	// Defaults make cards their customer's default.
	Defaults []DefaultPaymentMethod
	// Refunds are refunds as read from Stripe: they update the row made
	// here (Refund.LocalID) or, for a refund of a paid attempt made on
	// Stripe's side, add one.
	Refunds []Refund
	// RefundedCharges raise the refunded amount Stripe reports for the
	// payment of an attempt (never lower it: reads arrive in any order).
	RefundedCharges []ChargeState
	// StripeCustomerID or CustomerID, when known, files the event under that
	// customer, for the admin's customer page.
	StripeCustomerID string
	CustomerID       int64
}

// ChargeUpdate settles a charge attempt that is still processing.
type ChargeUpdate struct {
	AttemptID int64
	Status    string
	Outcome   ChargeOutcome
	// FollowUp is what the outcome sets going (the customer's message, or
	// the dunning), as Stripe's answer would have: written with the update
	// when the attempt settles to Status, so that an answer lost to a crash
	// loses nothing once the webhook or a sync brings it.
	FollowUp ChargeFollowUp
}

// Recovery is a failed charge paid through its recovery link.
type Recovery struct {
	AttemptID       int64
	SessionID       string
	PaymentIntentID string
}

// DefaultPaymentMethod names a customer's default card. With OnlyIfFirst it
// applies only to the first card the customer saves: a later one, saved by
// anyone who knows the email, never takes over or fills a default the
// customer left empty.
type DefaultPaymentMethod struct {
	StripeCustomerID string
	PaymentMethodID  string
	OnlyIfFirst      bool
}

// CompletedSession is a Checkout Session Stripe reports complete.
type CompletedSession struct {
	ID               string
	Mode             string
	Currency         string
	StripeCustomerID string
	SetupIntentID    string
	PaymentIntentID  string
}

// applyEffect writes an effect through the store and reports the recovery
// payments it recorded. Both paths that record one (the return page and the
// webhook) skip a session already complete, so each is reported once, bar a
// race between the two.
func (s *Service) applyEffect(ctx context.Context, eventID string, effect Effect, reapply bool) error {
	if err := s.store.Apply(ctx, eventID, effect, reapply); err != nil {
		return err
	}
	for range effect.Recoveries {
		s.observer.ChargeSettled(ChargeRecovered)
	}
	for _, u := range effect.ChargeUpdates {
		s.afterPaidRetry(ctx, u.FollowUp)
	}
	return nil
}

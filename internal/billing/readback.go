package billing

import (
	"context"
	"errors"
	"time"
)

// Kinds of Stripe object the store mirrors in rows of its own.
const (
	MirrorPaymentMethod   = "payment_method"
	MirrorSetupIntent     = "setup_intent"
	MirrorCheckoutSession = "checkout_session"
	// MirrorPaymentIntent is the charge attempt that made a PaymentIntent.
	MirrorPaymentIntent = "payment_intent"
)

// Mirror is what the store holds of one Stripe object: enough to tell,
// without asking Stripe, whether an event about it can still change anything.
type Mirror struct {
	// Kind is one of the Mirror* kinds.
	Kind   string
	Status string
	// CustomerID is our customer the object belongs to, zero if none.
	CustomerID int64
	// SyncedAt is the watermark of the row: its state is what Stripe said
	// at that time or later. Zero for Checkout Sessions, which keep none.
	SyncedAt time.Time
}

// eventClockMargin is how much later than an event's created time a read of
// ours must have started before it is sure to have seen what the event
// reports. Stripe's created is in whole seconds, truncated, so the change
// may have happened up to a second after it; the rest covers the drift
// between Stripe's clock and ours (both NTP-kept, so milliseconds in
// practice; a read caught inside the margin only costs a Stripe call).
const eventClockMargin = 5 * time.Second

// mirroredKind is the kind of object each event type is about, for the
// types whose read-back a mirror can make unnecessary.
var mirroredKind = map[string]string{
	EventCheckoutSessionCompleted:          MirrorCheckoutSession,
	EventSetupIntentSucceeded:              MirrorSetupIntent,
	EventSetupIntentSetupFailed:            MirrorSetupIntent,
	EventPaymentMethodAttached:             MirrorPaymentMethod,
	EventPaymentMethodDetached:             MirrorPaymentMethod,
	EventPaymentMethodUpdated:              MirrorPaymentMethod,
	EventPaymentMethodAutomaticallyUpdated: MirrorPaymentMethod,
	EventPaymentIntentSucceeded:            MirrorPaymentIntent,
}

// effectOf decides what an event changes, reading its object back from
// Stripe only when the mirror may be older than the event. A replay
// (reapply) always reads: it is the operator's way to resync a row.
func (s *Service) effectOf(ctx context.Context, e Event, reapply bool) (Effect, error) {
	if !reapply {
		effect, current, err := s.mirrorIsCurrent(ctx, e)
		if err != nil || current {
			return effect, err
		}
	}
	return s.eventEffect(ctx, e)
}

// mirrorIsCurrent tells, in one database read, whether the store already
// holds a state of e's object no older than the one e announces. Then a
// read-back would at most write what the row holds, so the event is applied
// as it is: filed under the object's customer, with nothing else to write.
// This is what makes a saved card cost one Stripe read on the usual path:
// the success page reads the session (and attaches the card for a new
// customer) before Stripe's events arrive, and each of them then finds its
// object mirrored.
func (s *Service) mirrorIsCurrent(ctx context.Context, e Event) (Effect, bool, error) {
	kind, ok := mirroredKind[e.Type]
	if !ok || e.ObjectID == "" {
		return Effect{}, false, nil
	}
	m, err := s.store.Mirror(ctx, e.ObjectID)
	if errors.Is(err, ErrNotFound) {
		return Effect{}, false, nil
	}
	if err != nil {
		return Effect{}, false, err
	}
	if m.Kind != kind || !mirrorCovers(e, m) {
		return Effect{}, false, nil
	}
	return Effect{CustomerID: m.CustomerID}, true, nil
}

// mirrorCovers tells whether a mirrored row already reflects event e. Two
// kinds of proof are accepted:
//
//   - A state Stripe never leaves, or never leaves by the event's kind of
//     change. A session once complete stays complete; a SetupIntent once
//     succeeded stays succeeded, so a success or an earlier failure of it
//     says nothing new; a PaymentIntent once succeeded stays succeeded too,
//     so a charge recorded succeeded from Stripe's answer (which usually
//     comes before the event) costs no read-back: a batch of charges makes
//     half the Stripe requests; a card is attached once (Stripe refuses to
//     attach a detached card again), so a card mirrored attached has seen
//     its attachment, and one mirrored detached has seen its detachment. What
//     else the read-back would refresh (a card's expiry) changes only
//     through events of its own, which are judged on their own.
//   - Time, for every other case: a read that began more than
//     eventClockMargin after the event was created saw its change. Only
//     attached cards and SetupIntents are trusted on time: their rows are
//     written from Stripe's answers alone, while a card detached from the
//     admin keeps the details we held before.
//
// Events about objects the store has not mirrored are always read back.
func mirrorCovers(e Event, m Mirror) bool {
	readAfter := !m.SyncedAt.IsZero() && !e.Created.IsZero() && m.SyncedAt.After(e.Created.Add(eventClockMargin))
	switch e.Type {
	case EventCheckoutSessionCompleted:
		return m.Status == SessionComplete
	case EventSetupIntentSucceeded, EventSetupIntentSetupFailed:
		return m.Status == SetupIntentSucceeded || readAfter
	case EventPaymentMethodAttached:
		return m.Status == PaymentMethodActive
	case EventPaymentMethodDetached:
		return m.Status == PaymentMethodDetached
	case EventPaymentMethodUpdated, EventPaymentMethodAutomaticallyUpdated:
		return m.Status == PaymentMethodActive && readAfter
	case EventPaymentIntentSucceeded:
		return m.Status == ChargeSucceeded
	default:
		return false
	}
}

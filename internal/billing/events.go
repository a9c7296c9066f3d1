package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotDurable marks a failure to store an event: nothing may be
// acknowledged, so Stripe must retry.
var ErrNotDurable = errors.New("event not stored")

// ReceiveEvent stores a verified event in the ledger and applies it, once.
// A duplicate of an applied event changes nothing. An error wrapping
// ErrNotDurable means the event was not stored; any other error means it was
// stored with the error and can be applied later by a retry, sync or replay.
func (s *Service) ReceiveEvent(ctx context.Context, e Event) error {
	outcome, err := s.receiveEvent(ctx, e)
	s.observer.EventDelivered(e.Type, outcome)
	return err
}

func (s *Service) receiveEvent(ctx context.Context, e Event) (DeliveryOutcome, error) {
	s.noteAPIVersion(e)
	if effect, ok := localEffect(e); ok {
		// Nothing to ask Stripe: store the event already applied, with its
		// effect, in one transaction. Only a duplicate goes the long way.
		inserted, err := s.store.RecordAppliedEvent(ctx, e, effect)
		if err != nil {
			return DeliveryNotStored, fmt.Errorf("receive event %s: %w: %w", e.ID, ErrNotDurable, err)
		}
		if inserted {
			return DeliveryApplied, nil
		}
	}
	applied, err := s.store.RecordEvent(ctx, e)
	if err != nil {
		return DeliveryNotStored, fmt.Errorf("receive event %s: %w: %w", e.ID, ErrNotDurable, err)
	}
	if applied {
		return DeliveryDuplicate, nil
	}
	switch appliedNow, err := s.apply(ctx, e, false); {
	case err != nil:
		return DeliveryFailed, err
	case appliedNow:
		return DeliveryApplied, nil
	default:
		return DeliveryDuplicate, nil
	}
}

// noteAPIVersion warns, once per version, about events rendered in another
// API version than the one this build is pinned to. They are still accepted:
// every object that matters is read back through the pinned version.
func (s *Service) noteAPIVersion(e Event) {
	if e.APIVersion == "" || e.APIVersion == s.apiVersion {
		return
	}
	if _, seen := s.versionsWarned.LoadOrStore(e.APIVersion, true); !seen {
		s.log.Warn("webhook event from another Stripe API version; objects are read back through the pinned one",
			"event_api_version", e.APIVersion, "pinned_api_version", s.apiVersion, "event_id", e.ID)
	}
}

// apply computes an event's effect and writes it with the event's applied
// mark, telling whether this call applied it (false: another got there
// first). A failure is recorded on the event so that a later attempt can
// finish the job; it never blocks other events.
func (s *Service) apply(ctx context.Context, e Event, reapply bool) (bool, error) {
	effect, err := s.effectOf(ctx, e, reapply)
	if err == nil {
		err = s.applyEffect(ctx, e.ID, effect, reapply)
		if errors.Is(err, ErrAlreadyApplied) {
			return false, nil
		}
		if err == nil {
			s.refundDuplicatesOf(ctx, effect)
		}
	}
	if err != nil {
		// Record on a context that outlives a cancelled request.
		if ferr := s.store.EventFailed(context.WithoutCancel(ctx), e.ID, err.Error()); ferr != nil {
			s.log.Error("record event failure", "event_id", e.ID, "err", ferr)
		}
		return false, fmt.Errorf("apply event %s (%s): %w", e.ID, e.Type, err)
	}
	return true, nil
}

// eventEffect decides what an event changes. Events arrive late, twice and
// out of order, so their payloads are not trusted for state: each handler
// reads the object back from Stripe, and the read time is the watermark that
// keeps an older read from overwriting a newer one. That makes every order
// of delivery converge on Stripe's current state; effectOf spares the call
// when the mirror already holds a state no older than the event's.
func (s *Service) eventEffect(ctx context.Context, e Event) (Effect, error) {
	if effect, ok := localEffect(e); ok {
		return effect, nil
	}
	switch e.Type {
	case EventCheckoutSessionCompleted, EventCheckoutSessionAsyncPaymentSucceeded, EventCheckoutSessionAsyncPaymentFailed:
		// The session's own state says which: paid, failed, or still processing.
		return s.sessionCompletedEffect(ctx, e.ObjectID)
	case EventSetupIntentSucceeded, EventSetupIntentSetupFailed:
		return s.setupIntentEffect(ctx, e.ObjectID)
	case EventPaymentMethodAttached, EventPaymentMethodDetached, EventPaymentMethodUpdated, EventPaymentMethodAutomaticallyUpdated:
		return s.paymentMethodEffect(ctx, e.ObjectID)
	case EventPaymentIntentSucceeded, EventPaymentIntentPaymentFailed:
		return s.paymentIntentEffect(ctx, e.ObjectID)
	case EventRefundCreated, EventRefundUpdated, EventRefundFailed:
		return s.refundEffect(ctx, e.ObjectID)
	case EventChargeRefunded:
		return s.chargeRefundedEffect(ctx, e.ObjectID)
	default:
		return Effect{}, fmt.Errorf("event type %s has no handler", e.Type)
	}
}

// localEffect is the effect of an event that needs nothing from Stripe: a
// type the store ignores, or one whose payload can be trusted whatever the
// order. ok is false when the object must be read back.
func localEffect(e Event) (Effect, bool) {
	if e.ObjectID == "" {
		return Effect{}, true
	}
	switch e.Type {
	case EventCheckoutSessionExpired:
		// Expiry is final on Stripe's side; no read-back is needed to trust it.
		return Effect{ExpiredSessions: []string{e.ObjectID}}, true
	case EventCustomerDeleted:
		// Deletion is final too, and Stripe never reuses a Customer id.
		return Effect{DeletedCustomers: []string{e.ObjectID}, StripeCustomerID: e.ObjectID}, true
	case EventCheckoutSessionCompleted, EventCheckoutSessionAsyncPaymentSucceeded, EventCheckoutSessionAsyncPaymentFailed, EventSetupIntentSucceeded, EventSetupIntentSetupFailed,
		EventPaymentMethodAttached, EventPaymentMethodDetached, EventPaymentMethodUpdated, EventPaymentMethodAutomaticallyUpdated,
		EventPaymentIntentSucceeded, EventPaymentIntentPaymentFailed,
		EventRefundCreated, EventRefundUpdated, EventRefundFailed, EventChargeRefunded:
		return Effect{}, false
	default:
		return Effect{}, true
	}
}

func (s *Service) sessionCompletedEffect(ctx context.Context, sessionID string) (Effect, error) {
	local, err := s.store.CheckoutSession(ctx, sessionID)
	switch {
	case err == nil && local.Status == SessionComplete:
		return Effect{CustomerID: local.CustomerID}, nil // the return page got there first
	case err != nil && !errors.Is(err, ErrNotFound):
		return Effect{}, err
	}
	remote, err := s.gateway.RetrieveSession(ctx, sessionID)
	if errors.Is(err, ErrNotFound) {
		return Effect{}, nil
	}
	if err != nil {
		return Effect{}, err
	}
	// Not complete yet (an asynchronous payment method): an empty effect;
	// its setup_intent.succeeded, or a later event, records it.
	effect, _, err := s.completedSessionEffect(ctx, remote, local.MakesDefault)
	return effect, err
}

func (s *Service) setupIntentEffect(ctx context.Context, id string) (Effect, error) {
	st, err := s.gateway.SetupIntent(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Effect{}, nil
	}
	if err != nil {
		return Effect{}, err
	}
	var effect Effect
	if st.Customer != nil {
		effect.Customers = append(effect.Customers, normalizedCustomer(*st.Customer))
		effect.StripeCustomerID = st.Customer.ID
	}
	si := st.SetupIntent
	if pm := st.PaymentMethod; pm != nil {
		if pm.StripeCustomerID == "" {
			// Not attached yet: a session without a customer, which
			// checkout.session.completed attaches and records.
			return Effect{}, nil
		}
		pm.Status = PaymentMethodActive
		effect.PaymentMethods = append(effect.PaymentMethods, *pm)
		if st.Customer == nil || st.Customer.ID != pm.StripeCustomerID {
			effect.Customers = append(effect.Customers, StripeCustomer{ID: pm.StripeCustomerID})
		}
		if si.StripeCustomerID == "" {
			si.StripeCustomerID = pm.StripeCustomerID
		}
	} else if si.Status == SetupIntentSucceeded {
		return Effect{}, fmt.Errorf("setup intent %s succeeded without a payment method", id)
	}
	effect.SetupIntents = append(effect.SetupIntents, si)
	return effect, nil
}

func (s *Service) paymentMethodEffect(ctx context.Context, id string) (Effect, error) {
	st, err := s.gateway.PaymentMethod(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Effect{GonePaymentMethods: []string{id}}, nil
	}
	if err != nil {
		return Effect{}, err
	}
	pm := st.PaymentMethod
	var effect Effect
	if st.Customer != nil {
		pm.Status = PaymentMethodActive
		effect.Customers = []StripeCustomer{normalizedCustomer(*st.Customer)}
		effect.StripeCustomerID = st.Customer.ID
	} else {
		pm.Status = PaymentMethodDetached
	}
	effect.PaymentMethods = []PaymentMethod{pm}
	return effect, nil
}

// normalizedCustomer keeps Stripe's email only when it is one we would accept.
func normalizedCustomer(c StripeCustomer) StripeCustomer {
	email, err := NormalizeEmail(c.Email)
	if err != nil {
		email = ""
	}
	return StripeCustomer{ID: c.ID, Email: email}
}

// ReplayEvent applies an event again, from the ledger or, if the ledger lacks
// it, from Stripe. Re-applying is safe: effects are read back from Stripe,
// even when the mirror looks current, so a replay also resyncs a row.
func (s *Service) ReplayEvent(ctx context.Context, id string) (Event, error) {
	if !ValidEventID(id) {
		return Event{}, Invalid("event", "%q is not an event id (evt_...).", id)
	}
	if err := s.audit(ctx, ActionEventReplay, id, Money{}, ""); err != nil {
		return Event{}, err
	}
	stored, err := s.store.StoredEvent(ctx, id)
	e := stored.Event
	if errors.Is(err, ErrNotFound) {
		e, err = s.gateway.Event(ctx, id)
		if err == nil {
			_, err = s.store.RecordEvent(ctx, e)
		}
	}
	if err != nil {
		return Event{}, fmt.Errorf("replay event %s: %w", id, err)
	}
	_, err = s.apply(ctx, e, true)
	return e, err
}

// StoredEvent returns an event as stored here; ErrNotFound when it never arrived.
func (s *Service) StoredEvent(ctx context.Context, id string) (StoredEvent, error) {
	if !ValidEventID(id) {
		return StoredEvent{}, ErrNotFound
	}
	e, err := s.store.StoredEvent(ctx, id)
	if err != nil {
		return StoredEvent{}, fmt.Errorf("event %s: %w", id, err)
	}
	return e, nil
}

// MaxSyncWindow is how far back Stripe's events list reaches.
const MaxSyncWindow = 30 * 24 * time.Hour

// ReconcileWindow is how far back a scheduled reconciliation looks: well
// over its interval, so a run that was missed or failed is covered by the next.
const ReconcileWindow = time.Hour

// Reconcile is Sync over ReconcileWindow, for a schedule: a missed webhook
// delivery is found without an operator. Events that fail to apply stay in
// the ledger for the next run, and are reported as an error.
func (s *Service) Reconcile(ctx context.Context) (SyncReport, error) {
	report, err := s.Sync(ctx, ReconcileWindow)
	if err == nil && len(report.Failed) > 0 {
		err = fmt.Errorf("reconcile: %d of %d events failed to apply: %s", len(report.Failed), report.Found, strings.Join(report.Failed, "; "))
	}
	return report, err
}

// SyncReport says what a sync found and did.
type SyncReport struct {
	Since          time.Time
	Found          int
	AlreadyApplied int
	Applied        int
	Failed         []string
}

// Sync lists Stripe's events of the handled types since the window began and
// applies those the ledger lacks or has not applied: the repair for missed
// deliveries. It is safe at any time and from several machines at once,
// since each event is applied at most once under a lock on its ledger row.
func (s *Service) Sync(ctx context.Context, window time.Duration) (SyncReport, error) {
	if window <= 0 || window > MaxSyncWindow {
		window = MaxSyncWindow
	}
	report := SyncReport{Since: s.now().Add(-window)}
	events, err := s.gateway.ListEvents(ctx, report.Since, HandledEventTypes())
	if err != nil {
		return report, fmt.Errorf("sync: %w", err)
	}
	report.Found = len(events)
	// Duplicate payments whose refund failed before are tried again.
	defer s.refundDuplicates(ctx, 0)
	defer s.cancelFailedIntents(ctx, 0)
	for _, e := range events {
		applied, err := s.store.RecordEvent(ctx, e)
		if err != nil {
			return report, fmt.Errorf("sync: %w", err)
		}
		if applied {
			report.AlreadyApplied++
			continue
		}
		switch appliedNow, err := s.apply(ctx, e, false); {
		case err != nil:
			report.Failed = append(report.Failed, fmt.Sprintf("%s %s: %v", e.ID, e.Type, err))
		case appliedNow:
			report.Applied++
		default:
			report.AlreadyApplied++
		}
	}
	return report, nil
}

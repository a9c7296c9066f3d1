package billing

import (
	"context"
	"errors"
	"fmt"
)

// StartSetup finds or creates the customer for email and creates a setup-mode
// Checkout Session for them. It returns the URL of Stripe's hosted page.
//
// A customer Stripe does not know yet gets a session by email, and the
// Stripe Customer is made when a card is saved (the guide's "attach the
// PaymentMethod to a Customer"). So a known and an unknown email cost the
// same (one lookup, one Stripe call, one insert) and take the same time,
// which keeps the form from telling who is a customer; a flood of made-up
// emails makes no customers, here or on Stripe.
func (s *Service) StartSetup(ctx context.Context, rawEmail string) (string, error) {
	session, err := s.StartSetupWith(ctx, rawEmail, SetupOptions{})
	return session.URL, err
}

// SetupOptions adjust a setup session for what the card is saved for.
type SetupOptions struct {
	// Currency is the session's; empty: the store's default.
	Currency string
	// Metadata is set on the session (an order's id, say).
	Metadata map[string]string
	// MakesDefault: the card saved through the session becomes the
	// customer's default (a card link's session).
	MakesDefault bool
	// ReturnPath, when set, is the store's page Checkout returns to, with
	// ?session_id= on success; empty: /success and /cancel.
	ReturnPath string
}

// StartSetupWith is StartSetup for a session with options; it returns the
// session as recorded, so the caller can refer to it.
func (s *Service) StartSetupWith(ctx context.Context, rawEmail string, opts SetupOptions) (CheckoutSession, error) {
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return CheckoutSession{}, err
	}
	if opts.Currency == "" {
		opts.Currency = s.currency
	}
	customer, err := s.store.CustomerByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return CheckoutSession{}, fmt.Errorf("start setup: %w", err)
	}
	return s.startSetupSession(ctx, customer, email, opts)
}

// startSetupSession creates and records a setup session for a customer (ID
// zero: one not made yet).
func (s *Service) startSetupSession(ctx context.Context, customer Customer, email string, opts SetupOptions) (CheckoutSession, error) {
	session, err := s.createSetupSession(ctx, customer.StripeID, email, opts)
	if MissingCustomer(err) {
		// Stripe no longer has the Customer we stored (deleted, or an
		// emulator that restarted): forget it, and carry on as for a new
		// customer, whose Stripe Customer is made when the card is saved.
		if err := s.retireStripeCustomer(ctx, customer.StripeID); err != nil {
			return CheckoutSession{}, fmt.Errorf("start setup: %w", err)
		}
		session, err = s.createSetupSession(ctx, "", email, opts)
	}
	if err != nil {
		return CheckoutSession{}, fmt.Errorf("start setup: %w", err)
	}
	session.CustomerID = customer.ID
	session.Mode = ModeSetup
	session.Status = SessionOpen
	session.Currency = opts.Currency
	session.MakesDefault = opts.MakesDefault
	if err := s.store.CreateCheckoutSession(ctx, session); err != nil {
		return CheckoutSession{}, fmt.Errorf("start setup: %w", err)
	}
	return session, nil
}

// createSetupSession makes a setup session for a Stripe Customer, or with
// none, prefilled with the email.
func (s *Service) createSetupSession(ctx context.Context, stripeCustomerID, email string, opts SetupOptions) (CheckoutSession, error) {
	var prefill string
	if stripeCustomerID == "" {
		prefill = email
	}
	success, cancel := s.baseURL+"/success?session_id={CHECKOUT_SESSION_ID}", s.baseURL+"/cancel"
	if opts.ReturnPath != "" {
		success, cancel = s.baseURL+opts.ReturnPath+"?session_id={CHECKOUT_SESSION_ID}", s.baseURL+opts.ReturnPath+"?canceled=1"
	}
	return s.gateway.CreateSetupSession(ctx, SetupSessionParams{
		StripeCustomerID: stripeCustomerID,
		CustomerEmail:    prefill,
		Currency:         opts.Currency,
		Metadata:         opts.Metadata,
		SuccessURL:       success,
		CancelURL:        cancel,
		// A fresh key per click: a retried request (stripe-go retries network
		// failures) then reuses the same session instead of making another.
		IdempotencyKey: newIdempotencyKey(),
	})
}

// retireStripeCustomer records that Stripe has no Customer stripeID any
// more, as customer.deleted does: the next card saved makes a new one.
func (s *Service) retireStripeCustomer(ctx context.Context, stripeID string) error {
	s.log.Warn("Stripe has no Customer we stored; a new one is made when a card is saved", "stripe_customer_id", stripeID)
	return s.store.Apply(ctx, "", Effect{DeletedCustomers: []string{stripeID}, StripeCustomerID: stripeID}, false)
}

// SetupResult is the outcome of finalizing a setup session: the saved payment
// method once the session is complete, or Pending while Stripe is still at it.
type SetupResult struct {
	Pending       bool
	SessionStatus string
	PaymentMethod PaymentMethod
	// MadeDefault is set when the session was opened to replace the
	// customer's default card (a card expiry reminder's link).
	MadeDefault bool
}

// FinalizeSetup records the SetupIntent and PaymentMethod of a completed
// setup session and returns the saved payment method. A session already
// recorded (by an earlier visit or by the webhook) is answered from the
// database without calling Stripe; one that is unknown here is ErrNotFound,
// so that nobody can make us query Stripe for ids that are not ours.
func (s *Service) FinalizeSetup(ctx context.Context, sessionID string) (SetupResult, error) {
	pending, status, err := s.recordReturn(ctx, sessionID, ModeSetup)
	if err != nil {
		return SetupResult{}, fmt.Errorf("finalize setup: %w", err)
	}
	if pending {
		return SetupResult{Pending: true, SessionStatus: status}, nil
	}
	return s.savedBySession(ctx, sessionID)
}

// recordReturn is the return page's way to record a Checkout Session of this
// store: from the database when it is already recorded (no Stripe call),
// else read from Stripe and written through the same effect as the webhook's
// checkout.session.completed. pending, with Stripe's status, means Stripe is
// not done yet.
func (s *Service) recordReturn(ctx context.Context, sessionID, mode string) (pending bool, status string, err error) {
	if !ValidSessionID(sessionID) {
		return false, "", fmt.Errorf("session: malformed id: %w", ErrNotFound)
	}
	local, err := s.store.CheckoutSession(ctx, sessionID)
	if err != nil {
		return false, "", fmt.Errorf("session %s: %w", sessionID, err)
	}
	if local.Mode != mode {
		return false, "", fmt.Errorf("session %s: mode %s: %w", sessionID, local.Mode, ErrNotFound)
	}
	if local.Status == SessionComplete {
		return false, SessionComplete, nil
	}
	remote, err := s.gateway.RetrieveSession(ctx, sessionID)
	if err != nil {
		return false, "", fmt.Errorf("session %s: %w", sessionID, err)
	}
	effect, complete, err := s.completedSessionEffect(ctx, remote, local.MakesDefault)
	if err != nil {
		return false, "", fmt.Errorf("session %s: %w", sessionID, err)
	}
	if !complete {
		return true, remote.Status, nil
	}
	if err := s.applyEffect(ctx, "", effect, false); err != nil {
		return false, "", fmt.Errorf("session %s: %w", sessionID, err)
	}
	s.refundDuplicatesOf(ctx, effect)
	return false, SessionComplete, nil
}

// completedSessionEffect is what a completed Checkout Session writes, in
// either mode; complete is false while Stripe is not done with it (an
// asynchronous payment method, or a customer still on the page).
// makesDefault is the session's own record (CheckoutSession.MakesDefault).
func (s *Service) completedSessionEffect(ctx context.Context, remote SessionState, makesDefault bool) (effect Effect, complete bool, err error) {
	switch {
	case remote.Mode == ModeSetup && setupComplete(remote):
		effect, err = s.setupEffect(ctx, remote, makesDefault)
	case paymentComplete(remote):
		effect, err = s.paymentEffect(ctx, remote)
	case paymentFailed(remote):
		effect = failedPaymentEffect(remote)
	default:
		return Effect{}, false, nil
	}
	return effect, true, err
}

func setupComplete(remote SessionState) bool {
	return remote.Status == SessionComplete && remote.SetupIntentStatus == SetupIntentSucceeded && remote.PaymentMethod != nil
}

func (s *Service) savedBySession(ctx context.Context, sessionID string) (SetupResult, error) {
	pm, err := s.store.SessionPaymentMethod(ctx, sessionID)
	if err != nil {
		return SetupResult{}, fmt.Errorf("finalize setup %s: %w", sessionID, err)
	}
	session, err := s.store.CheckoutSession(ctx, sessionID)
	if err != nil {
		return SetupResult{}, fmt.Errorf("finalize setup %s: %w", sessionID, err)
	}
	return SetupResult{SessionStatus: SessionComplete, PaymentMethod: pm, MadeDefault: session.MakesDefault}, nil
}

// setupEffect is what a completed setup session writes. The success page and
// checkout.session.completed both come through here, so both paths end in
// the same rows. The first card a customer ever saves becomes their default;
// a later one does not, whoever typed the email into the public form, until
// the customer chooses it through a link we emailed them. With makesDefault
// (a session opened from such a link, asking for it) the saved card does,
// here and on Stripe.
func (s *Service) setupEffect(ctx context.Context, remote SessionState, makesDefault bool) (Effect, error) {
	pm := *remote.PaymentMethod
	customer := StripeCustomer{ID: remote.StripeCustomerID, Email: remote.Email}
	if customer.ID == "" {
		attached, err := s.attachToCustomer(ctx, remote)
		if err != nil {
			return Effect{}, err
		}
		customer = attached
	}
	pm.StripeCustomerID = customer.ID
	pm.Status = PaymentMethodActive
	pm.SyncedAt = remote.SyncedAt
	if makesDefault {
		// On Stripe too, so a charge made from Stripe's dashboard uses it.
		if err := s.gateway.SetDefaultPaymentMethod(ctx, customer.ID, pm.ID); err != nil {
			return Effect{}, fmt.Errorf("make %s the default: %w", pm.ID, err)
		}
	}
	if customer.Email != "" {
		// Stripe's email is only a hint when the customer is new to us.
		if email, err := NormalizeEmail(customer.Email); err == nil {
			customer.Email = email
		} else {
			customer.Email = ""
		}
	}
	return Effect{
		Customers:      []StripeCustomer{customer},
		PaymentMethods: []PaymentMethod{pm},
		SetupIntents: []SetupIntent{{
			ID:               remote.SetupIntentID,
			StripeCustomerID: customer.ID,
			PaymentMethodID:  pm.ID,
			Status:           remote.SetupIntentStatus,
			SyncedAt:         remote.SyncedAt,
		}},
		CompletedSessions: []CompletedSession{{
			ID:               remote.ID,
			Mode:             ModeSetup,
			Currency:         remote.Currency,
			StripeCustomerID: customer.ID,
			SetupIntentID:    remote.SetupIntentID,
		}},
		Defaults:         []DefaultPaymentMethod{{StripeCustomerID: customer.ID, PaymentMethodID: pm.ID, OnlyIfFirst: !makesDefault}},
		StripeCustomerID: customer.ID,
	}, nil
}

// attachToCustomer gives the payment method of a session created without a
// customer one: found or created by the email Checkout collected, because an
// unattached payment method cannot be charged later.
func (s *Service) attachToCustomer(ctx context.Context, remote SessionState) (StripeCustomer, error) {
	email, err := NormalizeEmail(remote.Email)
	if err != nil {
		return StripeCustomer{}, fmt.Errorf("session without customer has no usable email: %w", err)
	}
	customer, err := s.ensureStripeCustomer(ctx, email)
	if err != nil {
		return StripeCustomer{}, err
	}
	pm := remote.PaymentMethod
	switch pm.StripeCustomerID {
	case customer.StripeID:
	case "":
		err := s.gateway.AttachPaymentMethod(ctx, pm.ID, customer.StripeID)
		if MissingCustomer(err) {
			// The Customer we stored is gone on Stripe: make a new one, once.
			if err := s.retireStripeCustomer(ctx, customer.StripeID); err != nil {
				return StripeCustomer{}, err
			}
			if customer, err = s.ensureStripeCustomer(ctx, email); err != nil {
				return StripeCustomer{}, err
			}
			err = s.gateway.AttachPaymentMethod(ctx, pm.ID, customer.StripeID)
		}
		if err != nil {
			return StripeCustomer{}, fmt.Errorf("attach payment method %s: %w", pm.ID, err)
		}
	default:
		return StripeCustomer{}, fmt.Errorf("payment method %s belongs to another customer (%s): %w", pm.ID, pm.StripeCustomerID, errors.ErrUnsupported)
	}
	return StripeCustomer{ID: customer.StripeID, Email: email}, nil
}

// ListPaymentMethods returns a page of saved payment methods, newest first.
func (s *Service) ListPaymentMethods(ctx context.Context, q ListQuery) ([]SavedPaymentMethod, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	list, err := s.store.ListPaymentMethods(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	return list, nil
}

// Ready tells whether the service can reach its database.
func (s *Service) Ready(ctx context.Context) error {
	return s.store.Ping(ctx)
}

package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// RecoveryLinkTTL is how long a recovery link works.
const RecoveryLinkTTL = 7 * 24 * time.Hour

// RecoveryKeyName names the shared secret that signs recovery links.
const RecoveryKeyName = "recovery_links"

// Link problems, each a page of its own for the customer.
var (
	ErrLinkInvalid = errors.New("this payment link is not valid")
	ErrLinkExpired = errors.New("this payment link has expired")
	ErrAlreadyPaid = errors.New("this payment has already been made")
)

// RecoveryLink is the signed, expiring link a customer follows to pay a
// failed charge: /pay/{token}.
func (s *Service) RecoveryLink(attemptID int64) string {
	return s.baseURL + "/pay/" + s.recoveryToken(attemptID, s.now().Add(RecoveryLinkTTL))
}

// recoveryToken is base64url(attempt id | expiry) "." base64url(HMAC), so a
// link names its attempt and expiry and cannot be altered or forged.
func (s *Service) recoveryToken(attemptID int64, expires time.Time) string {
	return s.signedToken(recoveryTokenPurpose, attemptID, expires)
}

// verifyRecoveryToken returns the attempt a token names, if its signature holds and it has not expired.
func (s *Service) verifyRecoveryToken(token string) (int64, error) {
	return s.verifySignedToken(recoveryTokenPurpose, token)
}

// ErrPaymentProcessing is a recovery whose payment Stripe has taken but not
// yet confirmed (an asynchronous payment method): no new session is made.
var ErrPaymentProcessing = errors.New("this payment is being processed")

// sessionReuseMargin is how long a stored recovery session must still be open
// to be handed out again: one about to expire under the customer is replaced.
const sessionReuseMargin = 10 * time.Minute

// StartRecovery turns a recovery link into the URL of a payment-mode
// Checkout Session for the failed amount: the open one if the customer
// already started, else a new one. An expired, tampered or paid link is an
// error the customer is shown; it never leads to a second payment.
//
// Exactly one session of an attempt can be paid at a time: before a new one
// is made, the previous one is expired on Stripe, whatever our copy says of
// it (near its expiry, marked expired, or never recorded). If Stripe says it
// was paid meanwhile, that payment is recorded instead and no session is
// made. No transaction is open during the Stripe calls; concurrent clicks
// converge because the create call's idempotency key is derived from the
// session it replaces, and the record is a guarded update.
func (s *Service) StartRecovery(ctx context.Context, token string) (string, error) {
	attemptID, err := s.verifyRecoveryToken(token)
	if err != nil {
		return "", err
	}
	attempt, err := s.store.ChargeAttempt(ctx, attemptID)
	if errors.Is(err, ErrNotFound) {
		return "", ErrLinkInvalid
	}
	if err != nil {
		return "", fmt.Errorf("recovery of attempt %d: %w", attemptID, err)
	}
	if attempt.Paid() {
		return "", ErrAlreadyPaid
	}
	if attempt.Failed() && !attempt.WithdrawnAt.IsZero() {
		return "", ErrNoLongerDue
	}
	if !attempt.Recoverable() {
		return "", ErrLinkInvalid
	}
	replaced := attempt.RecoverySessionID
	if replaced != "" {
		current, err := s.store.CheckoutSession(ctx, replaced)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", fmt.Errorf("recovery of attempt %d: %w", attemptID, err)
		}
		if err == nil && current.Status == SessionOpen && current.URL != "" &&
			(current.ExpiresAt.IsZero() || current.ExpiresAt.After(s.now().Add(sessionReuseMargin))) {
			return current.URL, nil
		}
		if err := s.retireRecoverySession(ctx, attempt, replaced); err != nil {
			return "", err
		}
	}
	items, err := s.store.ChargeAttemptItems(ctx, attempt.ID)
	if err != nil {
		return "", fmt.Errorf("recovery of attempt %d: %w", attemptID, err)
	}
	description := attempt.Description
	if description == "" {
		description = fmt.Sprintf("Payment %d", attempt.ID)
	}
	created, err := s.gateway.CreatePaymentSession(ctx, PaymentSessionParams{
		AttemptID:        attempt.ID,
		StripeCustomerID: attempt.StripeCustomerID,
		Money:            attempt.Money,
		Description:      description,
		Items:            items,
		SuccessURL:       s.baseURL + "/pay/complete?session_id={CHECKOUT_SESSION_ID}",
		// The attempt's own link, not the one clicked: the create call must
		// send the same parameters each time for its idempotency key to hold.
		CancelURL:      s.baseURL + "/pay/" + s.recoveryToken(attempt.ID, attempt.CreatedAt.Add(RecoveryLinkTTL)),
		IdempotencyKey: recoverySessionKey(attempt.ID, replaced),
	})
	if err != nil {
		return "", fmt.Errorf("recovery of attempt %d: %w", attemptID, err)
	}
	created.CustomerID = attempt.CustomerID
	created.Mode = ModePayment
	created.Status = SessionOpen
	created.Currency = attempt.Money.Currency
	session, err := s.store.RecordRecoverySession(ctx, attempt.ID, replaced, created)
	if errors.Is(err, ErrAlreadyPaid) || errors.Is(err, ErrLinkInvalid) || errors.Is(err, ErrNoLongerDue) {
		s.expireUnused(ctx, created.ID)
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("recovery of attempt %d: %w", attemptID, err)
	}
	if session.ID != created.ID {
		// Another click replaced the session first: ours must not stay payable.
		s.expireUnused(ctx, created.ID)
		if session.Status != SessionOpen || session.URL == "" {
			return "", fmt.Errorf("recovery of attempt %d: session %s is %s: %w", attemptID, session.ID, session.Status, ErrPaymentProcessing)
		}
	}
	return session.URL, nil
}

// recoverySessionKey is the idempotency key of the session that replaces
// replaced: concurrent clicks, and a retry after a crash between Stripe's
// answer and our record, get the same session instead of a second one.
func recoverySessionKey(attemptID int64, replaced string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("recovery|%d|%s", attemptID, replaced)))
	return "recovery-" + hex.EncodeToString(sum[:16])
}

// retireRecoverySession expires an attempt's previous session on Stripe
// before another is made. A session Stripe says was paid is recorded, and
// the customer is told it is paid; only an expired (or unknown) one lets a
// new session be made.
func (s *Service) retireRecoverySession(ctx context.Context, attempt ChargeAttempt, id string) error {
	state, err := s.gateway.ExpireSession(ctx, id)
	var gatewayErr *GatewayError
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		return nil // never made on Stripe: nothing can pay it
	case errors.As(err, &gatewayErr) && gatewayErr.HTTPStatus == 400:
		// Not open any more: Stripe's own copy says whether it was paid.
		state, err = s.gateway.RetrieveSession(ctx, id)
		if err != nil {
			return fmt.Errorf("recovery of attempt %d: session %s: %w", attempt.ID, id, err)
		}
	default:
		return fmt.Errorf("recovery of attempt %d: expire session %s: %w", attempt.ID, id, err)
	}
	switch state.Status {
	case SessionExpired:
		if err := s.store.Apply(ctx, "", Effect{ExpiredSessions: []string{id}}, false); err != nil {
			return fmt.Errorf("recovery of attempt %d: %w", attempt.ID, err)
		}
		return nil
	case SessionComplete:
		if paymentFailed(state) {
			// Its payment failed: nothing can be paid through it any more.
			if err := s.store.Apply(ctx, "", failedPaymentEffect(state), false); err != nil {
				return fmt.Errorf("recovery of attempt %d: %w", attempt.ID, err)
			}
			return nil
		}
		if state.PaymentStatus != "paid" {
			return ErrPaymentProcessing
		}
		if state.PaymentIntentID == "" {
			// The expire answer does not expand the PaymentIntent; the retrieve does.
			if state, err = s.gateway.RetrieveSession(ctx, id); err != nil {
				return fmt.Errorf("recovery of attempt %d: session %s: %w", attempt.ID, id, err)
			}
		}
		effect, err := s.paymentEffect(ctx, state)
		if err == nil {
			err = s.store.Apply(ctx, "", effect, false)
		}
		if err != nil {
			return fmt.Errorf("recovery of attempt %d: record the payment of %s: %w", attempt.ID, id, err)
		}
		s.refundDuplicates(ctx, attempt.ID)
		s.cancelFailedIntents(ctx, attempt.ID)
		return ErrAlreadyPaid
	default:
		return fmt.Errorf("recovery of attempt %d: session %s is %q after expiring it", attempt.ID, id, state.Status)
	}
}

// expireUnused expires a session this call made but could not hand out, so
// that it cannot be paid; a failure is logged (a payment through it would be
// refunded as a duplicate).
func (s *Service) expireUnused(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.gateway.ExpireSession(ctx, id); err != nil {
		s.log.Warn("could not expire an unused recovery session", "session_id", id, "err", err)
		return
	}
	if err := s.store.Apply(ctx, "", Effect{ExpiredSessions: []string{id}}, false); err != nil {
		s.log.Warn("record an unused recovery session expired", "session_id", id, "err", err)
	}
}

// refundDuplicates refunds, on Stripe, the payments recorded as duplicates
// of an attempt (attemptID 0: of every attempt) and records each refund. The
// key derived from the PaymentIntent makes a repeat, from any replica,
// refund once. A failure stays pending, shown to the admin, for the next
// return page, webhook or sync.
func (s *Service) refundDuplicates(ctx context.Context, attemptID int64) {
	ctx = context.WithoutCancel(ctx)
	pending, err := s.store.PendingRecoveryRefunds(ctx, attemptID)
	if err != nil {
		s.log.Error("duplicate payments to refund", "attempt_id", attemptID, "err", err)
		return
	}
	for _, r := range pending {
		s.log.Warn("a payment arrived for a charge already paid; refunding it",
			"attempt_id", r.ChargeAttemptID, "payment_intent_id", r.PaymentIntentID, "session_id", r.SessionID, "amount", r.Money.String())
		refund, err := s.gateway.RefundPayment(ctx, RefundParams{PaymentIntentID: r.PaymentIntentID, Reason: "duplicate", IdempotencyKey: "refund-duplicate-" + r.PaymentIntentID})
		var gatewayErr *GatewayError
		if errors.As(err, &gatewayErr) && gatewayErr.Code == "charge_already_refunded" {
			refund, err = Refund{ID: "(refunded on Stripe)", PaymentIntentID: r.PaymentIntentID}, nil
		}
		failure := ""
		if err != nil {
			failure = err.Error()
			s.log.Error("duplicate payment not refunded; it stays pending", "attempt_id", r.ChargeAttemptID, "payment_intent_id", r.PaymentIntentID, "err", err)
		}
		if err := s.store.FinishRecoveryRefund(ctx, r.ID, refund.ID, failure); err != nil {
			s.log.Error("record refund", "attempt_id", r.ChargeAttemptID, "payment_intent_id", r.PaymentIntentID, "refund_id", refund.ID, "err", err)
		}
	}
}

// refundDuplicatesOf refunds the duplicate payments an applied effect may
// have recorded, and cancels the failed PaymentIntents, of the attempts it paid.
func (s *Service) refundDuplicatesOf(ctx context.Context, effect Effect) {
	for _, r := range effect.Recoveries {
		s.refundDuplicates(ctx, r.AttemptID)
		s.cancelFailedIntents(ctx, r.AttemptID)
	}
}

// cancelFailedIntents cancels on Stripe the failed PaymentIntents of
// recovered attempts (attemptID 0: of every one) and records each. It runs
// after the recovery is committed and never undoes it: a failure is logged
// and kept, and the next webhook or sync tries again with the same key.
func (s *Service) cancelFailedIntents(ctx context.Context, attemptID int64) {
	ctx = context.WithoutCancel(ctx)
	pending, err := s.store.FailedIntentsToCancel(ctx, attemptID)
	if err != nil {
		s.log.Error("failed payment intents to cancel", "attempt_id", attemptID, "err", err)
		return
	}
	for _, f := range pending {
		err := s.gateway.CancelPaymentIntent(ctx, f.PaymentIntentID, "cancel-failed-"+f.PaymentIntentID)
		var gatewayErr *GatewayError
		switch {
		case errors.Is(err, ErrNotFound):
			err = nil // nothing left on Stripe to cancel
		case errors.As(err, &gatewayErr) && gatewayErr.Code == "payment_intent_unexpected_state":
			// Already cancelled (by an earlier try whose record was lost, or on the Dashboard).
			s.log.Info("failed payment intent not cancellable; leaving it", "attempt_id", f.AttemptID,
				"payment_intent_id", f.PaymentIntentID, "stripe_request_id", gatewayErr.RequestID, "reason", gatewayErr.Message)
			err = nil
		}
		failure := ""
		if err != nil {
			failure = err.Error()
			s.log.Warn("failed payment intent not cancelled; the next webhook or sync retries", "attempt_id", f.AttemptID,
				"payment_intent_id", f.PaymentIntentID, "err", err)
		}
		if err := s.store.FailedIntentCanceled(ctx, f.AttemptID, failure); err != nil {
			s.log.Error("record payment intent cancel", "attempt_id", f.AttemptID, "payment_intent_id", f.PaymentIntentID, "err", err)
		}
	}
}

// RecoveryRefunds returns the duplicate payments of an attempt, refunded or pending.
func (s *Service) RecoveryRefunds(ctx context.Context, attemptID int64) ([]RecoveryRefund, error) {
	list, err := s.store.RecoveryRefunds(ctx, attemptID)
	if err != nil {
		return nil, fmt.Errorf("refunds of attempt %d: %w", attemptID, err)
	}
	return list, nil
}

// PaymentResult is the outcome of a recovery payment's return page.
type PaymentResult struct {
	Pending bool
	Attempt ChargeAttempt
	// Duplicate is set when this payment arrived after the attempt was
	// already paid: it is refunded (or pending a refund), not kept.
	Duplicate *RecoveryRefund
}

// FinalizePayment records a paid recovery session: the attempt recovered and
// the card used saved as the customer's default. The webhook takes the same
// path; whichever is first does the work.
func (s *Service) FinalizePayment(ctx context.Context, sessionID string) (PaymentResult, error) {
	pending, _, err := s.recordReturn(ctx, sessionID, ModePayment)
	if err != nil {
		return PaymentResult{}, fmt.Errorf("finalize payment: %w", err)
	}
	if pending {
		return PaymentResult{Pending: true}, nil
	}
	if dup, err := s.store.RecoveryRefundOfSession(ctx, sessionID); err == nil {
		if dup.Status == RefundPending {
			s.refundDuplicates(ctx, dup.ChargeAttemptID)
			if dup, err = s.store.RecoveryRefundOfSession(ctx, sessionID); err != nil {
				return PaymentResult{}, fmt.Errorf("finalize payment %s: %w", sessionID, err)
			}
		}
		attempt, err := s.store.ChargeAttempt(ctx, dup.ChargeAttemptID)
		if err != nil {
			return PaymentResult{}, fmt.Errorf("finalize payment %s: %w", sessionID, err)
		}
		return PaymentResult{Attempt: attempt, Duplicate: &dup}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return PaymentResult{}, fmt.Errorf("finalize payment %s: %w", sessionID, err)
	}
	attempt, err := s.store.ChargeAttemptOfSession(ctx, sessionID)
	if err != nil {
		return PaymentResult{}, fmt.Errorf("finalize payment %s: %w", sessionID, err)
	}
	return PaymentResult{Attempt: attempt}, nil
}

func paymentComplete(remote SessionState) bool {
	return remote.Mode == ModePayment && remote.Status == SessionComplete && remote.PaymentStatus == "paid"
}

// paymentFailed tells whether a payment-mode session completed with a
// payment that then failed (checkout.session.async_payment_failed): Stripe
// keeps it complete and unpaid, its PaymentIntent back to
// requires_payment_method. Nothing was paid; the attempt stays open to its
// recovery link, which makes a new session.
func paymentFailed(remote SessionState) bool {
	return remote.Mode == ModePayment && remote.Status == SessionComplete && remote.PaymentStatus == "unpaid" &&
		(remote.PaymentIntentStatus == "requires_payment_method" || remote.PaymentIntentStatus == "canceled")
}

// failedPaymentEffect records a session whose payment failed as complete
// (as Stripe has it) and nothing else: no recovery, no card, so the attempt
// is not marked paid and the customer can try again.
func failedPaymentEffect(remote SessionState) Effect {
	return Effect{
		CompletedSessions: []CompletedSession{{
			ID: remote.ID, Mode: ModePayment, Currency: remote.Currency,
			StripeCustomerID: remote.StripeCustomerID, PaymentIntentID: remote.PaymentIntentID,
		}},
		StripeCustomerID: remote.StripeCustomerID,
	}
}

// paymentEffect is what a paid recovery session writes: the attempt
// recovered, the card saved and made the default, here and on Stripe (so a
// charge made from Stripe's dashboard uses it too).
func (s *Service) paymentEffect(ctx context.Context, remote SessionState) (Effect, error) {
	effect := Effect{
		CompletedSessions: []CompletedSession{{
			ID: remote.ID, Mode: ModePayment, Currency: remote.Currency,
			StripeCustomerID: remote.StripeCustomerID, PaymentIntentID: remote.PaymentIntentID,
		}},
		StripeCustomerID: remote.StripeCustomerID,
	}
	if remote.StripeCustomerID != "" {
		effect.Customers = []StripeCustomer{normalizedCustomer(StripeCustomer{ID: remote.StripeCustomerID, Email: remote.Email})}
	}
	if remote.AttemptID != 0 {
		effect.Recoveries = []Recovery{{AttemptID: remote.AttemptID, SessionID: remote.ID, PaymentIntentID: remote.PaymentIntentID}}
	}
	pm := remote.PaymentMethod
	if pm == nil || pm.StripeCustomerID == "" || pm.StripeCustomerID != remote.StripeCustomerID {
		return effect, nil // the card was not saved for the customer
	}
	saved := *pm
	saved.Status = PaymentMethodActive
	effect.PaymentMethods = []PaymentMethod{saved}
	if remote.AttemptID == 0 {
		return effect, nil // not a recovery: the customer's default stays
	}
	if attempt, err := s.store.ChargeAttempt(ctx, remote.AttemptID); err == nil && attempt.Paid() &&
		attempt.RecoveredPaymentIntentID != remote.PaymentIntentID && attempt.PaymentIntentID != remote.PaymentIntentID {
		return effect, nil // a duplicate, to be refunded: the card that paid stays the default
	}
	if err := s.gateway.SetDefaultPaymentMethod(ctx, remote.StripeCustomerID, pm.ID); err != nil {
		return Effect{}, fmt.Errorf("make %s the default: %w", pm.ID, err)
	}
	effect.Defaults = []DefaultPaymentMethod{{StripeCustomerID: remote.StripeCustomerID, PaymentMethodID: pm.ID}}
	return effect, nil
}

// paymentIntentEffect settles an attempt whose outcome we missed (a crash
// between Stripe's answer and our commit): the PaymentIntent's metadata
// names the attempt.
func (s *Service) paymentIntentEffect(ctx context.Context, id string) (Effect, error) {
	outcome, err := s.gateway.PaymentIntent(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Effect{}, nil
	}
	if err != nil {
		return Effect{}, err
	}
	status := chargeStatus(outcome)
	if outcome.AttemptID == 0 || status == ChargeProcessing {
		return Effect{}, nil
	}
	update := ChargeUpdate{AttemptID: outcome.AttemptID, Status: status, Outcome: outcome}
	attempt, err := s.store.ChargeAttempt(ctx, outcome.AttemptID)
	switch {
	case errors.Is(err, ErrNotFound):
		return Effect{}, nil // made by another store on the same Stripe account
	case err != nil:
		return Effect{}, err
	case attempt.Status == ChargeProcessing:
		if update.FollowUp, err = s.chargeFollowUp(ctx, attempt, status, outcome); err != nil {
			return Effect{}, err
		}
	}
	return Effect{ChargeUpdates: []ChargeUpdate{update}}, nil
}

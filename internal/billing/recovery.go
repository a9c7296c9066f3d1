package billing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
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
	payload := make([]byte, 16)
	binary.BigEndian.PutUint64(payload[:8], uint64(attemptID))
	binary.BigEndian.PutUint64(payload[8:], uint64(expires.Unix()))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.sign(payload))
}

func (s *Service) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, s.recoveryKey)
	mac.Write(payload)
	return mac.Sum(nil)[:16]
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$`)

// verifyRecoveryToken returns the attempt a token names, if its signature holds and it has not expired.
func (s *Service) verifyRecoveryToken(token string) (int64, error) {
	// One spelling per token, so a link cannot be varied and still work:
	// base64 decoding alone skips newlines and tolerates stray bits.
	if !tokenPattern.MatchString(token) {
		return 0, ErrLinkInvalid
	}
	encoded, sig, ok := strings.Cut(token, ".")
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(encoded)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || len(payload) != 16 || len(s.recoveryKey) == 0 || !hmac.Equal(mac, s.sign(payload)) {
		return 0, ErrLinkInvalid
	}
	attemptID := int64(binary.BigEndian.Uint64(payload[:8]))
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload[8:])), 0)
	if s.now().After(expires) {
		return 0, ErrLinkExpired
	}
	return attemptID, nil
}

// StartRecovery turns a recovery link into the URL of a payment-mode
// Checkout Session for the failed amount: the open one if the customer
// already started, else a new one. An expired, tampered or paid link is an
// error the customer is shown; it never leads to a second payment.
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
	if attempt.Status == ChargeRecovered || attempt.Status == ChargeSucceeded {
		return "", ErrAlreadyPaid
	}
	if !attempt.Recoverable() {
		return "", ErrLinkInvalid
	}
	session, err := s.store.EnsureRecoverySession(ctx, attempt.ID, s.now(), func(ctx context.Context) (CheckoutSession, error) {
		created, err := s.gateway.CreatePaymentSession(ctx, PaymentSessionParams{
			AttemptID:        attempt.ID,
			StripeCustomerID: attempt.StripeCustomerID,
			Money:            attempt.Money,
			Description:      fmt.Sprintf("Payment %d", attempt.ID),
			SuccessURL:       s.baseURL + "/pay/complete?session_id={CHECKOUT_SESSION_ID}",
			CancelURL:        s.baseURL + "/pay/" + token,
			IdempotencyKey:   newIdempotencyKey(),
		})
		if err != nil {
			return CheckoutSession{}, err
		}
		created.CustomerID = attempt.CustomerID
		created.Mode = ModePayment
		created.Status = SessionOpen
		created.Currency = attempt.Money.Currency
		return created, nil
	})
	if err != nil {
		return "", fmt.Errorf("recovery of attempt %d: %w", attemptID, err)
	}
	return session.URL, nil
}

// PaymentResult is the outcome of a recovery payment's return page.
type PaymentResult struct {
	Pending bool
	Attempt ChargeAttempt
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
	attempt, err := s.store.ChargeAttemptOfSession(ctx, sessionID)
	if err != nil {
		return PaymentResult{}, fmt.Errorf("finalize payment %s: %w", sessionID, err)
	}
	return PaymentResult{Attempt: attempt}, nil
}

func paymentComplete(remote SessionState) bool {
	return remote.Mode == ModePayment && remote.Status == SessionComplete && remote.PaymentStatus == "paid"
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
	return Effect{ChargeUpdates: []ChargeUpdate{{AttemptID: outcome.AttemptID, Status: status, Outcome: outcome}}}, nil
}

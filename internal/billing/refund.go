package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ActionRefund is the audit log's word for a refund of a paid charge.
const ActionRefund = "charge.refund"

// RefundLimitError is a refund for more than is left to refund of a charge.
type RefundLimitError struct {
	Paid, Remaining Money
}

func (e *RefundLimitError) Error() string {
	return fmt.Sprintf("refund exceeds what is left: %s of %s", e.Remaining, e.Paid)
}

// RefundRequest asks for a refund of a paid charge attempt.
type RefundRequest struct {
	AttemptID int64
	// Amount is a decimal in the attempt's currency; empty refunds what is left.
	Amount string
	// IdempotencyKey identifies the refund: a double-submitted form refunds
	// once. Empty: a fresh one.
	IdempotencyKey string
}

// RefundCharge refunds a paid attempt in full or in part, never more than
// is left of what was paid. The refund is committed, with its key and
// amount, before Stripe is called, so concurrent refunds cannot together
// exceed the payment and a retry sends the same key. A refund Stripe
// refuses is recorded as failed, with Stripe's message.
func (s *Service) RefundCharge(ctx context.Context, req RefundRequest) (ChargeRefund, error) {
	attempt, err := s.store.ChargeAttempt(ctx, req.AttemptID)
	if err != nil {
		return ChargeRefund{}, fmt.Errorf("refund of attempt %d: %w", req.AttemptID, err)
	}
	if !attempt.Paid() {
		return ChargeRefund{}, Invalid("amount", "Only a paid charge can be refunded.")
	}
	money := Money{Amount: attempt.Refundable(), Currency: attempt.Money.Currency}
	if strings.TrimSpace(req.Amount) != "" {
		if money, err = ParseAmount(req.Amount, attempt.Money.Currency); err != nil {
			return ChargeRefund{}, err
		}
	}
	if money.Amount == 0 {
		return ChargeRefund{}, Invalid("amount", "Everything paid has been refunded already.")
	}
	key := req.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	if !idempotencyKeyPattern.MatchString(key) {
		return ChargeRefund{}, Invalid("form", "The form has expired; open the page again and resubmit.")
	}
	refund, created, err := s.store.CreateChargeRefund(ctx, ChargeRefund{
		AttemptID: attempt.ID, PaymentIntentID: attempt.PaidPaymentIntentID(), Money: money, IdempotencyKey: key,
	})
	var limit *RefundLimitError
	if errors.As(err, &limit) {
		return ChargeRefund{}, Invalid("amount", "At most %s can be refunded: %s was paid and the rest is refunded already.",
			limit.Remaining.Display(), limit.Paid.Display())
	}
	if err != nil {
		return ChargeRefund{}, fmt.Errorf("refund of attempt %d: %w", attempt.ID, err)
	}
	if !created && (refund.AttemptID != attempt.ID || refund.Money != money) {
		return ChargeRefund{}, Invalid("form", "This form was already used for another refund; open the page again.")
	}
	if !created && refund.Status != RefundPending {
		return refund, nil // a double submit of a settled refund
	}
	if err := s.audit(ctx, ActionRefund, refund.PaymentIntentID, money, fmt.Sprintf("refund %d, %s", refund.ID, attemptDetail(attempt))); err != nil {
		// Not sent: release the amount it held.
		if _, ferr := s.store.FinishChargeRefund(context.WithoutCancel(ctx), refund.ID, RefundCanceled, "", "not sent: "+err.Error()); ferr != nil {
			s.log.Error("release a refund that was not sent", "refund", refund.ID, "err", ferr)
		}
		return ChargeRefund{}, err
	}
	return s.sendRefund(ctx, refund)
}

// RetryRefund sends a refund whose outcome is unknown (Stripe's answer was
// lost) again with its key, so Stripe answers with the refund it made.
func (s *Service) RetryRefund(ctx context.Context, id int64) (ChargeRefund, error) {
	refund, err := s.store.ChargeRefund(ctx, id)
	if err != nil {
		return ChargeRefund{}, fmt.Errorf("retry refund %d: %w", id, err)
	}
	if refund.Status != RefundPending || refund.IdempotencyKey == "" || refund.RefundID != "" {
		return refund, nil
	}
	if err := s.audit(ctx, ActionRefund+".retry", refund.PaymentIntentID, refund.Money, fmt.Sprintf("refund %d", refund.ID)); err != nil {
		return refund, err
	}
	return s.sendRefund(ctx, refund)
}

func (s *Service) sendRefund(ctx context.Context, r ChargeRefund) (ChargeRefund, error) {
	answer, err := s.gateway.RefundPayment(ctx, RefundParams{
		PaymentIntentID: r.PaymentIntentID, Amount: r.Money.Amount, Reason: "requested_by_customer",
		IdempotencyKey: r.IdempotencyKey, LocalID: r.ID,
	})
	if gatewayErr, ok := refusedByStripe(err); ok {
		// Stripe refused it (more than is left on Stripe's side, say): nothing was refunded.
		return s.store.FinishChargeRefund(ctx, r.ID, RefundFailed, "", gatewayErr.Message)
	}
	if err != nil {
		// Unknown outcome: it stays pending, holding its amount, for a retry with its key.
		return r, fmt.Errorf("refund %d: %w", r.ID, err)
	}
	finished, err := s.store.FinishChargeRefund(ctx, r.ID, refundStatus(answer.Status), answer.ID, answer.FailureReason)
	if err != nil {
		return r, fmt.Errorf("refund %d: record outcome: %w", r.ID, err)
	}
	return finished, nil
}

// ChargeRefunds returns an attempt's refunds, oldest first.
func (s *Service) ChargeRefunds(ctx context.Context, attemptID int64) ([]ChargeRefund, error) {
	list, err := s.store.ChargeRefunds(ctx, attemptID)
	if err != nil {
		return nil, fmt.Errorf("refunds of attempt %d: %w", attemptID, err)
	}
	return list, nil
}

// metadataChargeRefund is the refund metadata key naming our ChargeRefund row.
const metadataChargeRefund = "charge_refund_id"

// RefundMetadata is the metadata a refund made here carries.
func RefundMetadata(localID int64) map[string]string {
	return map[string]string{metadataChargeRefund: strconv.FormatInt(localID, 10)}
}

// RefundLocalID reads the ChargeRefund a refund's metadata names, or 0.
func RefundLocalID(metadata map[string]string) int64 {
	id, _ := strconv.ParseInt(metadata[metadataChargeRefund], 10, 64)
	return id
}

// refundEffect reads a refund back from Stripe (refund.created,
// refund.updated, refund.failed): its row is updated, or for a refund of a
// paid attempt made on Stripe's side, added.
func (s *Service) refundEffect(ctx context.Context, id string) (Effect, error) {
	r, err := s.gateway.Refund(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Effect{}, nil
	}
	if err != nil {
		return Effect{}, err
	}
	r.Status = refundStatus(r.Status)
	return Effect{Refunds: []Refund{r}}, nil
}

// refundStatus maps Stripe's refund status to ours: one waiting on the
// customer's bank (requires_action) is still pending.
func refundStatus(status string) string {
	switch status {
	case RefundSucceeded, RefundFailed, RefundCanceled:
		return status
	}
	return RefundPending
}

// chargeRefundedEffect reads a charge back (charge.refunded) for how much
// of it Stripe has refunded, whoever refunded it.
func (s *Service) chargeRefundedEffect(ctx context.Context, id string) (Effect, error) {
	c, err := s.gateway.Charge(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Effect{}, nil
	}
	if err != nil {
		return Effect{}, err
	}
	if c.PaymentIntentID == "" {
		return Effect{}, nil
	}
	return Effect{RefundedCharges: []ChargeState{c}}, nil
}

// ErrNoLongerDue is a recovery link of a charge the store has withdrawn.
var ErrNoLongerDue = errors.New("this payment is no longer due")

// WithdrawCharge stops asking for a failed charge: its recovery link stops
// working and an open recovery session is expired on Stripe. If the
// customer paid meanwhile, the payment is recorded and ErrAlreadyPaid
// returned: the money is in, and the caller must not act as if it were not.
func (s *Service) WithdrawCharge(ctx context.Context, attemptID int64) (ChargeAttempt, error) {
	attempt, err := s.store.WithdrawChargeAttempt(ctx, attemptID)
	if err != nil {
		return ChargeAttempt{}, fmt.Errorf("withdraw attempt %d: %w", attemptID, err)
	}
	if attempt.Paid() {
		return attempt, ErrAlreadyPaid
	}
	if attempt.RecoverySessionID != "" {
		if err := s.retireRecoverySession(ctx, attempt, attempt.RecoverySessionID); err != nil {
			return attempt, err
		}
	}
	return attempt, nil
}

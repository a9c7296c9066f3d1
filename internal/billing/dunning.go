package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DunningStatus is where the automatic retrying of a soft decline stands.
type DunningStatus string

// Dunning statuses.
const (
	// DunningRetrying has a retry scheduled (Dunning.NextRetryAt).
	DunningRetrying DunningStatus = "retrying"
	// DunningSucceeded: a retry was paid, and the failed charge with it.
	DunningSucceeded DunningStatus = "succeeded"
	// DunningGaveUp: every retry of the schedule was declined; the
	// customer was sent the recovery link.
	DunningGaveUp DunningStatus = "gave_up"
	// DunningStopped: a retry met a decline waiting cannot fix, the card
	// went, the charge was paid another way, or a retry's outcome is unknown.
	DunningStopped DunningStatus = "stopped"
)

// Dunning is the automatic retrying, off-session, of one soft-declined charge.
type Dunning struct {
	// AttemptID is the soft-declined charge attempt.
	AttemptID   int64
	Status      DunningStatus
	RetriesDone int
	// Planned is how many retries the schedule makes in all.
	Planned     int
	StartedAt   time.Time
	NextRetryAt time.Time
	FinishedAt  time.Time
	// LastAttemptID is the newest retry's attempt.
	LastAttemptID int64
	// Outcome says, in words, why it ended.
	Outcome string
}

// Active tells whether a retry is still to come.
func (d Dunning) Active() bool { return d.Status == DunningRetrying }

// Succeeded tells whether a retry paid the declined charge.
func (d Dunning) Succeeded() bool { return d.Status == DunningSucceeded }

// GaveUp tells whether every retry of the schedule was declined.
func (d Dunning) GaveUp() bool { return d.Status == DunningGaveUp }

// DefaultDunningSchedule retries a soft decline 1, 3 and 5 days after it.
func DefaultDunningSchedule() []time.Duration {
	return []time.Duration{24 * time.Hour, 72 * time.Hour, 120 * time.Hour}
}

// Limits of a dunning schedule: a few retries within a month, as card
// networks frown on many retries of one card.
const (
	MaxDunningRetries = 8
	MaxDunningSpan    = 30 * 24 * time.Hour
)

// ParseDunningSchedule reads a schedule such as "24h,72h,120h": when each
// retry is due, counted from the first decline, in increasing order. "off"
// retries nothing (a soft decline is written to the customer at once, like
// any other); "" is the default schedule (nil).
func ParseDunningSchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "off":
		return []time.Duration{}, nil
	}
	var schedule []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 24h", strings.TrimSpace(part))
		}
		if d <= 0 || (len(schedule) > 0 && d <= schedule[len(schedule)-1]) {
			return nil, errors.New("each retry must come after the decline and after the retry before it (e.g. 24h,72h,120h)")
		}
		schedule = append(schedule, d)
	}
	if len(schedule) > MaxDunningRetries {
		return nil, fmt.Errorf("at most %d retries", MaxDunningRetries)
	}
	if schedule[len(schedule)-1] > MaxDunningSpan {
		return nil, fmt.Errorf("the last retry must come within %s of the decline", MaxDunningSpan)
	}
	return schedule, nil
}

// ChargeFollowUp is what a charge's outcome sets going. The store writes it
// in the transaction that records the outcome, and only if the attempt then
// holds the status it follows from.
type ChargeFollowUp struct {
	// Notify is a message to the customer about an unpaid attempt; it is
	// written only while that attempt is unpaid, and with a Dunning change
	// only if the change was made (so a step taken twice writes once).
	Notify *Notification
	// Dunning starts the retries of a soft decline, or moves them on.
	Dunning *DunningChange
}

// DunningChange is one step of a dunning: its start, a retry's outcome, or its end.
type DunningChange struct {
	// AttemptID is the soft-declined attempt.
	AttemptID int64
	// Start begins the dunning, at StartedAt.
	Start     bool
	StartedAt time.Time
	Status    DunningStatus
	// From is how many retries the dunning had made before this step: the
	// step is taken only from there, so it is taken once.
	From        int
	RetriesDone int
	NextRetryAt time.Time
	// LastAttemptID is the retry this step records.
	LastAttemptID int64
	Outcome       string
	// PaidBy is the PaymentIntent of a retry that succeeded; the
	// soft-declined attempt is recorded as paid by it.
	PaidBy string
	// At is when the step was taken.
	At time.Time
}

// DunningReport says what a dunning run did.
type DunningReport struct {
	// Claimed counts the due retries this run took on.
	Claimed int
	Failed  []string
}

// dunningLease is how long a run holds a due retry: many Stripe calls'
// budgets, so a live run never loses it, and short enough that a retry
// whose run died is taken up again by the next hourly run.
const dunningLease = 10 * time.Minute

// minDunningGap keeps retries apart when runs were missed (the workers
// stopped for days): each catches up an hour after the last, never all at once.
const minDunningGap = time.Hour

// DunningSchedule is the schedule of retries in use.
func (s *Service) DunningSchedule() []time.Duration { return s.dunning }

// RunDunning makes the retries that are due: each soft-declined charge whose
// next retry time has come is claimed (one replica at a time), charged again
// off-session as an attempt of its own, whose idempotency key is stored
// before Stripe is called, and moved on by the outcome. The context's actor
// (the system, for a schedule) is written to the audit log before each
// retry. Safe to run at any time, and on several replicas at once.
func (s *Service) RunDunning(ctx context.Context) (DunningReport, error) {
	var report DunningReport
	for {
		d, claimed, err := s.store.ClaimDunning(ctx, s.now(), dunningLease)
		if err != nil {
			return report, fmt.Errorf("dunning: %w", err)
		}
		if !claimed {
			break
		}
		report.Claimed++
		if err := s.dunningRetry(ctx, d); err != nil {
			// The claim keeps it back until it runs out; a later run tries again.
			s.log.Warn("dunning: retry not made", "attempt_id", d.AttemptID, "err", err)
			report.Failed = append(report.Failed, fmt.Sprintf("attempt %d: %v", d.AttemptID, err))
		}
	}
	if len(report.Failed) > 0 {
		return report, fmt.Errorf("dunning: %d of %d due retries failed and are tried again later: %s",
			len(report.Failed), report.Claimed, strings.Join(report.Failed, "; "))
	}
	return report, nil
}

// dunningRetry makes one claimed retry, or takes the step its state calls for.
func (s *Service) dunningRetry(ctx context.Context, d Dunning) error {
	orig, err := s.store.ChargeAttempt(ctx, d.AttemptID)
	if err != nil {
		return err
	}
	stop := func(outcome string, notify *Notification) error {
		return s.store.FollowUp(ctx, ChargeFollowUp{Notify: notify, Dunning: &DunningChange{
			AttemptID: orig.ID, Status: DunningStopped, From: d.RetriesDone, RetriesDone: d.RetriesDone,
			Outcome: outcome, At: s.now(),
		}})
	}
	if !orig.Recoverable() {
		return stop("paid another way", nil)
	}
	n := d.RetriesDone + 1
	items, err := s.store.ChargeAttemptItems(ctx, orig.ID)
	if err != nil {
		return err
	}
	retry, created, err := s.store.CreateChargeAttempt(ctx, ChargeAttempt{
		CustomerID: orig.CustomerID, PaymentMethodID: orig.PaymentMethodID, Money: orig.Money,
		IdempotencyKey: dunningKey(orig.IdempotencyKey, n), Status: ChargeProcessing, Description: orig.Description,
		RetryOf: orig.ID, RetryNumber: n, CreatedAt: s.now(),
	}, items)
	if err != nil {
		return err
	}
	switch {
	case !created && retry.Status != ChargeProcessing:
		// Settled by a webhook after an earlier run lost Stripe's answer.
		next, err := s.chargeFollowUp(ctx, retry, retry.Status, retry.outcome())
		if err != nil {
			return err
		}
		return s.followUp(ctx, retry, next)
	case retry.ProcessingAtStripe():
		return nil // Stripe is at it; its webhook settles the retry, and a later run moves on
	case !created && s.now().Sub(retry.CreatedAt) > idempotencyKeyLifetime:
		// Stripe has forgotten the key, so a resend could charge twice.
		return stop(fmt.Sprintf("retry %d's outcome is unknown (attempt %d); check Stripe's dashboard before charging again", n, retry.ID), nil)
	}
	// A new retry checks the card first; one that may have reached Stripe
	// is always sent again with its key, so its outcome is learnt, not guessed.
	if created {
		gone, err := s.cardGone(ctx, retry.PaymentMethodID)
		if err != nil {
			return err
		}
		if gone {
			// Not sent: only the customer can pay now, with another card.
			o := ChargeOutcome{Message: "The card was detached, so the retry was not sent."}
			_, err := s.store.FinishChargeAttempt(ctx, retry.ID, o, ChargeFailed, s.retryFollowUp(orig, retry, ChargeFailed, o))
			return err
		}
	}
	detail := fmt.Sprintf("attempt %d, automatic retry %d of attempt %d, customer %d", retry.ID, n, orig.ID, orig.CustomerID)
	if err := s.audit(ctx, ActionDunningRetry, retry.PaymentMethodID, retry.Money, detail); err != nil {
		return err
	}
	_, err = s.sendCharge(ctx, retry)
	return err
}

// cardGone tells whether a card can no longer be charged off-session.
func (s *Service) cardGone(ctx context.Context, id string) (bool, error) {
	pm, err := s.store.SavedPaymentMethod(ctx, id)
	if err != nil {
		return false, fmt.Errorf("card %s: %w", id, err)
	}
	return pm.Status != PaymentMethodActive || pm.StripeCustomerID == "", nil
}

// dunningKey is the idempotency key of a soft-declined attempt's n-th
// retry: derived from the attempt's own random key, so every run and every
// replica that makes this retry stores and sends the same key, and no other
// store on the same Stripe account can.
func dunningKey(attemptKey string, n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("dunning|%s|%d", attemptKey, n)))
	return "dunning-" + hex.EncodeToString(sum[:16])
}

// chargeFollowUp decides what an attempt's outcome sets going: for a charge
// someone asked for, the retries of a soft decline or the customer's
// message; for an automatic retry, the dunning's next step.
func (s *Service) chargeFollowUp(ctx context.Context, a ChargeAttempt, status string, o ChargeOutcome) (ChargeFollowUp, error) {
	if a.RetryOf != 0 {
		orig, err := s.store.ChargeAttempt(ctx, a.RetryOf)
		if err != nil {
			return ChargeFollowUp{}, fmt.Errorf("attempt %d retries attempt %d: %w", a.ID, a.RetryOf, err)
		}
		return s.retryFollowUp(orig, a, status, o), nil
	}
	switch {
	case status == ChargeDeclined && ClassifyDecline(o.Code, o.DeclineCode) == DeclineSoft && len(s.dunning) > 0:
		now := s.now()
		return ChargeFollowUp{Dunning: &DunningChange{
			AttemptID: a.ID, Start: true, StartedAt: now, Status: DunningRetrying, NextRetryAt: now.Add(s.dunning[0]),
		}}, nil
	case status == ChargeDeclined || status == ChargeAuthenticationRequired:
		n := s.paymentFailedNotification(a, status)
		return ChargeFollowUp{Notify: &n}, nil
	}
	return ChargeFollowUp{}, nil
}

// retryFollowUp is the step a retry's outcome takes its dunning: paid, the
// next retry, or the end, when the customer gets the one message of the
// whole dunning (the recovery link of the declined charge).
func (s *Service) retryFollowUp(orig, retry ChargeAttempt, status string, o ChargeOutcome) ChargeFollowUp {
	n := retry.RetryNumber
	now := s.now()
	change := DunningChange{AttemptID: orig.ID, From: n - 1, RetriesDone: n, LastAttemptID: retry.ID, At: now}
	kind := ClassifyDecline(o.Code, o.DeclineCode)
	switch {
	case status == ChargeProcessing:
		return ChargeFollowUp{} // unknown yet: the next run resends the same key
	case status == ChargeSucceeded:
		change.Status, change.PaidBy = DunningSucceeded, o.PaymentIntentID
		change.Outcome = fmt.Sprintf("paid by retry %d", n)
		return ChargeFollowUp{Dunning: &change}
	case status == ChargeDeclined && kind == DeclineSoft && n < len(s.dunning):
		change.Status = DunningRetrying
		change.NextRetryAt = orig.Dunning.StartedAt.Add(s.dunning[n])
		if earliest := now.Add(minDunningGap); change.NextRetryAt.Before(earliest) {
			change.NextRetryAt = earliest
		}
		return ChargeFollowUp{Dunning: &change}
	case status == ChargeDeclined && kind == DeclineSoft:
		change.Status = DunningGaveUp
		change.Outcome = fmt.Sprintf("all %d retries declined (%s)", n, declineWords(o))
	default:
		change.Status = DunningStopped
		change.Outcome = fmt.Sprintf("retry %d: %s", n, declineWords(o))
	}
	notifyAs := ChargeDeclined
	if status == ChargeAuthenticationRequired {
		notifyAs = ChargeAuthenticationRequired
	}
	notify := s.paymentFailedNotification(orig, notifyAs)
	return ChargeFollowUp{Dunning: &change, Notify: &notify}
}

func declineWords(o ChargeOutcome) string {
	switch {
	case o.DeclineCode != "" && o.DeclineCode != o.Code:
		return o.Code + " / " + o.DeclineCode
	case o.Code != "":
		return o.Code
	case o.Message != "":
		return o.Message
	}
	return "declined"
}

// followUp writes a settled attempt's follow-up with no outcome to record,
// then refunds what a paid retry may have paid twice.
func (s *Service) followUp(ctx context.Context, a ChargeAttempt, next ChargeFollowUp) error {
	if err := s.store.FollowUp(ctx, next); err != nil {
		return fmt.Errorf("attempt %d: %w", a.ID, err)
	}
	s.afterPaidRetry(ctx, next)
	return nil
}

// afterPaidRetry tidies after a retry paid a declined charge: a payment
// that also arrived through its recovery link is refunded, and the
// declined PaymentIntent is cancelled on Stripe, as for a recovery.
func (s *Service) afterPaidRetry(ctx context.Context, next ChargeFollowUp) {
	if next.Dunning == nil || next.Dunning.PaidBy == "" {
		return
	}
	s.refundDuplicates(ctx, next.Dunning.AttemptID)
	s.cancelFailedIntents(ctx, next.Dunning.AttemptID)
}

// withPlan fills in what the schedule plans for an attempt's dunning.
func (s *Service) withPlan(a ChargeAttempt) ChargeAttempt {
	if a.Dunning.Status != "" {
		a.Dunning.Planned = len(s.dunning)
	}
	return a
}

package billing

import (
	"context"
	"fmt"
)

// AuditFunc records, append-only, that the actor of ctx is about to take a
// money or card action: what (one of the Action constants), on what target,
// for how much (amount in minor units; currency empty when no money moves),
// with a detail such as the charge attempt's id. An error stops the action,
// so nothing reaches Stripe unattributed. staff.Service.Record is one.
type AuditFunc func(ctx context.Context, action, target string, amount int64, currency, detail string) error

// The actions written to the audit log.
const (
	ActionCharge      = "charge"
	ActionChargeRetry = "charge.retry"
	// ActionDunningRetry is an automatic retry of a soft-declined charge.
	ActionDunningRetry = "charge.dunning_retry"
	ActionCardDetach   = "card.detach"
	ActionCardDefault  = "card.default"
	ActionEventReplay  = "event.replay"
	// ActionNotificationResend sends a failed customer message again.
	ActionNotificationResend = "notification.resend"
)

// audit records an action before it reaches Stripe; without an AuditFunc it does nothing.
func (s *Service) audit(ctx context.Context, action, target string, m Money, detail string) error {
	if s.auditFunc == nil {
		return nil
	}
	if err := s.auditFunc(ctx, action, target, m.Amount, m.Currency, detail); err != nil {
		return fmt.Errorf("%s %s: %w", action, target, err)
	}
	return nil
}

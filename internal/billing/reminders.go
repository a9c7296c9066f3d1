package billing

import (
	"context"
	"fmt"
	"time"
)

// RecoveryReminderAfter is how long a recovery link waits unpaid before
// its one reminder. The reminder carries the same link, which still
// expires RecoveryLinkTTL after the first message.
const RecoveryReminderAfter = 3 * 24 * time.Hour

// reminderBatch bounds one run's reminders; a schedule's next run takes the rest.
const reminderBatch = 500

// SendRecoveryReminders writes one reminder for each recovery link that has
// waited RecoveryReminderAfter unpaid and has not expired, and returns how
// many it found due. The reminder is unique per attempt in the database, so
// runs repeated, or on several replicas at once, write it once.
func (s *Service) SendRecoveryReminders(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.store.RecoveryRemindersDue(ctx, now.Add(-RecoveryLinkTTL), now.Add(-RecoveryReminderAfter), reminderBatch)
	if err != nil {
		return 0, fmt.Errorf("recovery reminders: %w", err)
	}
	for _, first := range due {
		attempt, err := s.store.ChargeAttempt(ctx, first.ChargeAttemptID)
		if err != nil {
			return 0, fmt.Errorf("recovery reminders: %w", err)
		}
		reminder := s.recoveryReminder(attempt, first)
		if err := s.store.FollowUp(ctx, ChargeFollowUp{Notify: &reminder}); err != nil {
			return 0, fmt.Errorf("recovery reminder of attempt %d: %w", attempt.ID, err)
		}
	}
	return len(due), nil
}

// recoveryReminder recalls the first message's link, unchanged.
func (s *Service) recoveryReminder(a ChargeAttempt, first Notification) Notification {
	until := first.CreatedAt.Add(RecoveryLinkTTL).UTC().Format("2 January 2006")
	return Notification{
		CustomerID:      a.CustomerID,
		ChargeAttemptID: a.ID,
		CreatedAt:       s.now(),
		Kind:            NotificationPaymentReminder,
		Recipient:       first.Recipient,
		Subject:         "Reminder: your payment of " + a.Money.String() + " is still open",
		Body: "Hello,\n\nA few days ago we wrote that our charge of " + a.Money.String() + " to the card you saved with us did not go through. " +
			"It is still open.\n\nYou can pay here, with the same card or another one:\n\n" + first.Link + "\n\n" +
			"The link works until " + until + ". If you have paid in the meantime, thank you: there is nothing more to do.\n",
		Link: first.Link,
	}
}

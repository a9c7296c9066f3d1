package billing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Notification is a message to a customer, kept in the outbox and emailed
// by a job (SendNotificationArgs) enqueued in the transaction that wrote it.
type Notification struct {
	ID              int64
	CustomerID      int64
	ChargeAttemptID int64
	// OrderID is the order an order email is about; 0 for others.
	OrderID   int64
	Kind      string
	Recipient string
	Subject   string
	Body      string
	Link      string
	CreatedAt time.Time
	SentAt    time.Time
	Attempts  int
	LastError string
	// ClaimedUntil is when a sender's hold on the message ends (zero: none).
	ClaimedUntil time.Time
	// FailingSince is the first failure of the current run of tries.
	FailingSince time.Time
	// FailedAt is when the store gave up; the outbox offers Send again.
	FailedAt time.Time
}

// Notification kinds.
const (
	// NotificationPaymentFailed tells a customer an off-session charge failed.
	NotificationPaymentFailed = "payment_failed"
	// NotificationPaymentReminder recalls a recovery link still unpaid.
	NotificationPaymentReminder = "payment_reminder"
	// NotificationCardExpiring asks a customer to save a card before theirs expires.
	NotificationCardExpiring = "card_expiring"
	// NotificationManageCards carries the link a customer asked for to manage their cards.
	NotificationManageCards = "manage_cards"
)

// LinkWords names what a notification's link opens, for the outbox.
func (n Notification) LinkWords() string {
	switch {
	case n.Kind == NotificationCardExpiring:
		return "card link"
	case n.Kind == NotificationManageCards:
		return "cards link"
	case n.OrderID != 0:
		return "order page"
	}
	return "payment link"
}

// NotificationStatus is where a message stands, as the outbox shows it.
type NotificationStatus string

// Notification statuses.
const (
	// NotificationWaiting: not tried yet (without SMTP_URL messages wait here).
	NotificationWaiting NotificationStatus = "waiting"
	// NotificationRetrying: a send failed; it is tried again with backoff.
	NotificationRetrying NotificationStatus = "retrying"
	NotificationSent     NotificationStatus = "sent"
	// NotificationFailed: given up after EmailRetryWindow; staff may send it again.
	NotificationFailed NotificationStatus = "failed"
	// NotificationNoRecipient: the customer has no email address to send to.
	NotificationNoRecipient NotificationStatus = "no_recipient"
)

// Status tells where the message stands.
func (n Notification) Status() NotificationStatus {
	switch {
	case !n.SentAt.IsZero():
		return NotificationSent
	case !n.FailedAt.IsZero():
		return NotificationFailed
	case n.Recipient == "":
		return NotificationNoRecipient
	case n.LastError != "":
		return NotificationRetrying
	default:
		return NotificationWaiting
	}
}

// SendNotificationArgs is the job that emails one notification. Its kind and
// JSON are stored in the job queue, so they must not change.
type SendNotificationArgs struct {
	NotificationID int64 `json:"notification_id"`
}

// Kind names the job.
func (SendNotificationArgs) Kind() string { return "send_notification" }

// Job queues. Email has its own, worked only by replicas with SMTP_URL set,
// so that without a mail server messages wait rather than fail.
const (
	QueueDefault = "default"
	QueueEmail   = "email"
)

// EmailMaxAttempts bounds a message's tries, so that a misconfigured backoff
// cannot try for ever; EmailRetryWindow is what normally ends them.
const EmailMaxAttempts = 1000

// EmailRetryWindow is how long a message keeps being tried after its first
// failure before it is failed: a mail server down for a weekend loses nothing.
const EmailRetryWindow = 72 * time.Hour

// Email is one message as the Mailer sends it.
type Email struct {
	To      string
	Subject string
	Body    string
	// MessageID (without angle brackets) is derived from the notification,
	// so that a message sent twice (a sender that died after the server
	// accepted it) is recognisable as one.
	MessageID string
}

// Mailer sends one email.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// ErrGaveUp wraps the last send error of a message that is now failed.
var ErrGaveUp = errors.New("gave up sending")

// BusyError says another sender holds the message until Until.
type BusyError struct {
	NotificationID int64
	Until          time.Time
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("notification %d is being sent by another worker until %s", e.NotificationID, e.Until.Format(time.RFC3339))
}

// defaultSendLease is how long a send holds its message when the caller's
// context has no deadline.
const defaultSendLease = 5 * time.Minute

// SendNotification emails one notification, at most once: it holds the
// message for as long as ctx may run (another sender skips it meanwhile),
// sends with no transaction open, and records the outcome. A message already
// sent, or with nobody to send to, is done. A failure is recorded and
// returned, to be tried again, unless the message has been failing for
// EmailRetryWindow or this is the last try: then it is failed and the error
// wraps ErrGaveUp. A message held by another sender is a *BusyError.
func (s *Service) SendNotification(ctx context.Context, id int64, m Mailer, lastTry bool) error {
	lease := defaultSendLease
	if deadline, ok := ctx.Deadline(); ok {
		lease = time.Until(deadline)
	}
	n, claimed, err := s.store.ClaimNotification(ctx, id, lease)
	if err != nil {
		return fmt.Errorf("send notification %d: %w", id, err)
	}
	if !claimed {
		if !n.SentAt.IsZero() || n.Recipient == "" {
			return nil
		}
		return &BusyError{NotificationID: id, Until: n.ClaimedUntil}
	}
	sendErr := m.Send(ctx, Email{To: n.Recipient, Subject: n.Subject, Body: n.Body, MessageID: s.messageID(n)})
	// Record on a context that outlives a shutdown, so a sent message is not sent again.
	record := context.WithoutCancel(ctx)
	if sendErr == nil {
		if err := s.store.RecordNotificationSent(record, id); err != nil {
			return fmt.Errorf("send notification %d: sent, but: %w", id, err)
		}
		return nil
	}
	now := s.now()
	failingSince := n.FailingSince
	if failingSince.IsZero() {
		failingSince = now
	}
	giveUp := givesUp(failingSince, now, lastTry)
	if err := s.store.RecordNotificationFailure(record, id, sendErr.Error(), failingSince, giveUp); err != nil {
		return fmt.Errorf("send notification %d: %w (and recording it: %w)", id, sendErr, err)
	}
	if giveUp {
		s.log.Warn("notification failed: not sent after retrying", "notification_id", id, "failing_since", failingSince, "err", sendErr)
		return fmt.Errorf("send notification %d: %w: %w", id, ErrGaveUp, sendErr)
	}
	return fmt.Errorf("send notification %d: %w", id, sendErr)
}

// givesUp tells whether a message failing since then is failed now.
func givesUp(failingSince, now time.Time, lastTry bool) bool {
	return lastTry || now.Sub(failingSince) >= EmailRetryWindow
}

// messageID is stable for a notification: its id and creation time at the
// store's host name.
func (s *Service) messageID(n Notification) string {
	host := "localhost"
	if u, err := url.Parse(s.baseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "notification-" + strconv.FormatInt(n.ID, 10) + "." + strconv.FormatInt(n.CreatedAt.UnixMicro(), 36) + "@" + host
}

// OutboxPageSize is how many messages a page of the outbox shows.
const OutboxPageSize = 100

// OutboxQuery selects a page of the outbox, newest first: every message,
// or the failed ones only (those staff may send again).
type OutboxQuery struct {
	FailedOnly bool
	// Before and BeforeID, when set, are the keyset cursor: messages
	// created before Before, or at it with a lower id.
	Before   time.Time
	BeforeID int64
	Limit    int
}

// ParseOutboxQuery validates the outbox's filter ("" or "failed") and
// next-page cursor.
func ParseOutboxQuery(status, before, beforeID string) (OutboxQuery, error) {
	q := OutboxQuery{Limit: OutboxPageSize}
	switch NotificationStatus(status) {
	case "":
	case NotificationFailed:
		q.FailedOnly = true
	default:
		return q, Invalid("status", "The outbox shows every message or the failed ones; %q is neither.", status)
	}
	var err error
	q.Before, q.BeforeID, err = parseIDCursor(before, beforeID)
	return q, err
}

// NextOutboxPage is the cursor of the page after one ending with last.
func NextOutboxPage(last Notification) (before, beforeID string) {
	return idCursor(last.CreatedAt, last.ID)
}

// Notifications returns a page of the outbox.
func (s *Service) Notifications(ctx context.Context, q OutboxQuery) ([]Notification, error) {
	list, err := s.store.Notifications(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return list, nil
}

// FailedNotifications counts the messages staff may send again.
func (s *Service) FailedNotifications(ctx context.Context) (int, error) {
	n, err := s.store.FailedNotifications(ctx)
	if err != nil {
		return 0, fmt.Errorf("failed notifications: %w", err)
	}
	return n, nil
}

// ResendNotification sends a failed message again, from staff's outbox: a
// new job, and a new EmailRetryWindow of tries.
func (s *Service) ResendNotification(ctx context.Context, id int64) error {
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return fmt.Errorf("send notification %d again: %w", id, err)
	}
	notFailed := Invalid("notification", "Message %d is not failed: it was sent, or it is still being tried.", id)
	if n.Status() != NotificationFailed {
		return notFailed
	}
	if err := s.audit(ctx, ActionNotificationResend, strconv.FormatInt(id, 10), Money{}, "to customer "+strconv.FormatInt(n.CustomerID, 10)); err != nil {
		return err
	}
	resent, err := s.store.ResendNotification(ctx, id)
	if err != nil {
		return fmt.Errorf("send notification %d again: %w", id, err)
	}
	if !resent { // a concurrent Send again won
		return notFailed
	}
	return nil
}

// Notification returns one message of the outbox.
func (s *Service) Notification(ctx context.Context, id int64) (Notification, error) {
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return Notification{}, fmt.Errorf("notification %d: %w", id, err)
	}
	return n, nil
}

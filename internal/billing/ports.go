package billing

import (
	"context"
	"time"
)

// Store keeps the store's state. Implementations make each method atomic.
type Store interface {
	// CustomerByEmail returns the customer with this normalised email, or ErrNotFound.
	CustomerByEmail(ctx context.Context, email string) (Customer, error)
	// EnsureStripeCustomer returns the customer with this email and, when it
	// has no Stripe Customer yet, calls create with CustomerIdempotencyKey(email, generation)
	// and links what it returns. create runs with no transaction open (a slow
	// Stripe holds no lock or connection); concurrent callers send the same
	// key, so Stripe gives them one Customer, and the first link stays. If
	// create fails, nothing is written. create must not use the Store.
	EnsureStripeCustomer(ctx context.Context, email string, create func(ctx context.Context, email, idempotencyKey string) (string, error)) (Customer, error)
	// CreateCheckoutSession records a session Stripe created.
	CreateCheckoutSession(ctx context.Context, s CheckoutSession) error
	// CheckoutSession returns a recorded session, or ErrNotFound.
	CheckoutSession(ctx context.Context, id string) (CheckoutSession, error)
	// Mirror returns what the store holds of a payment method, SetupIntent
	// or Checkout Session, by its Stripe id, or ErrNotFound.
	Mirror(ctx context.Context, id string) (Mirror, error)
	// Apply writes an effect in one transaction. With an eventID, the event's
	// applied mark is written in the same transaction, and an event already
	// applied is skipped (ErrAlreadyApplied) unless reapply is set. Every
	// write is an upsert or a guarded update, so concurrent and repeated runs
	// converge on one row per object.
	Apply(ctx context.Context, eventID string, effect Effect, reapply bool) error
	// RecordEvent stores a verified event unless its id is known, and tells
	// whether it has been applied already.
	RecordEvent(ctx context.Context, e Event) (applied bool, err error)
	// RecordAppliedEvent stores a new event and its effect in one
	// transaction, as applied. It returns false, writing nothing, when the
	// event is already in the ledger.
	RecordAppliedEvent(ctx context.Context, e Event, effect Effect) (inserted bool, err error)
	// EventFailed records why applying an event failed, for a later retry.
	EventFailed(ctx context.Context, id string, reason string) error
	// StoredEvent returns an event from the ledger, or ErrNotFound.
	StoredEvent(ctx context.Context, id string) (StoredEvent, error)
	// CustomerEvents returns a customer's most recent events.
	CustomerEvents(ctx context.Context, customerID int64, limit int) ([]StoredEvent, error)
	// LastEventReceivedAt is when the newest event arrived; zero if none has.
	LastEventReceivedAt(ctx context.Context) (time.Time, error)
	// ListEvents returns a page of the ledger: failed events first, then
	// pending, then applied, each newest first (EventQuery).
	ListEvents(ctx context.Context, q EventQuery) ([]StoredEvent, error)
	// EventCounts counts the failed and pending events, of one type or all.
	EventCounts(ctx context.Context, eventType string) (map[EventState]int, error)
	// EventTypes returns the distinct types in the ledger, sorted.
	EventTypes(ctx context.Context) ([]string, error)

	// CustomerByStripeID returns the customer of a Stripe Customer, or ErrNotFound.
	CustomerByStripeID(ctx context.Context, stripeID string) (Customer, error)
	// Customer returns a customer, or ErrNotFound.
	Customer(ctx context.Context, id int64) (Customer, error)
	// CustomerPaymentMethods returns a customer's cards, newest first.
	CustomerPaymentMethods(ctx context.Context, customerID int64) ([]PaymentMethod, error)
	// SavedPaymentMethod returns one card with its customer, or ErrNotFound.
	SavedPaymentMethod(ctx context.Context, id string) (SavedPaymentMethod, error)
	// SetDefaultPaymentMethod makes a card its customer's default.
	SetDefaultPaymentMethod(ctx context.Context, customerID int64, paymentMethodID string) error
	// Totals counts what the admin list summarises.
	Totals(ctx context.Context, now time.Time) (Totals, error)

	// CreateChargeAttempt commits a new attempt, with the lines it pays for,
	// before Stripe is called. An attempt with the same idempotency key is
	// returned instead, with created false: a double-submitted form charges once.
	CreateChargeAttempt(ctx context.Context, a ChargeAttempt, items []LineItem) (attempt ChargeAttempt, created bool, err error)
	// ChargeAttemptItems returns the lines an attempt pays for, in order; none
	// for a charge of a bare amount.
	ChargeAttemptItems(ctx context.Context, attemptID int64) ([]LineItem, error)
	// WithdrawChargeAttempt marks a failed attempt withdrawn, so that its
	// recovery link stops working, and returns it; an attempt in any other
	// state is returned unchanged.
	WithdrawChargeAttempt(ctx context.Context, attemptID int64) (ChargeAttempt, error)
	// CreateChargeRefund commits a pending refund, with its idempotency key,
	// before Stripe is called, reserving its amount against what is left to
	// refund of the attempt (a *RefundLimitError when it is more). A refund
	// with the same key is returned instead, with created false.
	CreateChargeRefund(ctx context.Context, r ChargeRefund) (refund ChargeRefund, created bool, err error)
	// FinishChargeRefund records what became of a pending refund.
	FinishChargeRefund(ctx context.Context, id int64, status, refundID, failure string) (ChargeRefund, error)
	// ChargeRefund returns one refund, or ErrNotFound.
	ChargeRefund(ctx context.Context, id int64) (ChargeRefund, error)
	// ChargeRefunds returns an attempt's refunds, oldest first.
	ChargeRefunds(ctx context.Context, attemptID int64) ([]ChargeRefund, error)
	// FinishChargeAttempt records Stripe's answer for an attempt still
	// processing and, in the same transaction, what it sets going (next),
	// if the attempt then holds status (a concurrent settle may have won).
	FinishChargeAttempt(ctx context.Context, id int64, outcome ChargeOutcome, status string, next ChargeFollowUp) (ChargeAttempt, error)
	// FollowUp writes a follow-up that has no charge outcome to record with
	// it (a step of a dunning, a reminder), in one transaction.
	FollowUp(ctx context.Context, next ChargeFollowUp) error
	// ClaimDunning leases the dunning whose retry is most overdue at now to
	// this caller until now+lease; another replica skips it meanwhile. It
	// returns false when no retry is due.
	ClaimDunning(ctx context.Context, now time.Time, lease time.Duration) (Dunning, bool, error)
	// ChargeAttempt returns an attempt, or ErrNotFound.
	ChargeAttempt(ctx context.Context, id int64) (ChargeAttempt, error)
	// ChargeAttemptOfSession returns the attempt a recovery session pays, or ErrNotFound.
	ChargeAttemptOfSession(ctx context.Context, sessionID string) (ChargeAttempt, error)
	// CustomerChargeAttempts returns a customer's attempts, newest first.
	CustomerChargeAttempts(ctx context.Context, customerID int64) ([]ChargeAttempt, error)
	// ListPayments returns a page of charge attempts across customers, with
	// their order, newest first (PaymentQuery).
	ListPayments(ctx context.Context, q PaymentQuery) ([]Payment, error)
	// PaymentTotals sums the charge attempts a query selects (its cursor
	// aside), one PaymentTotals per currency, sorted by currency.
	PaymentTotals(ctx context.Context, q PaymentQuery) ([]PaymentTotals, error)
	// FoldPaymentTotals compacts the counters PaymentTotals reads for the
	// days before now's (UTC), returning how many keys it folded; safe to
	// run at any time, and to give up (the next run does what it left).
	FoldPaymentTotals(ctx context.Context, now time.Time) (int64, error)
	// RecordRecoverySession makes s, just created on Stripe to replace the
	// session named replaced ("" for the first), the attempt's recovery
	// session, unless another caller replaced it first or the attempt is no
	// longer payable (ErrAlreadyPaid). It returns the attempt's session
	// afterwards: s, or the one that won.
	RecordRecoverySession(ctx context.Context, attemptID int64, replaced string, s CheckoutSession) (CheckoutSession, error)
	// RecoveryRefunds returns the duplicate payments of an attempt, oldest first.
	RecoveryRefunds(ctx context.Context, attemptID int64) ([]RecoveryRefund, error)
	// RecoveryRefundOfSession returns the duplicate payment a session made, or ErrNotFound.
	RecoveryRefundOfSession(ctx context.Context, sessionID string) (RecoveryRefund, error)
	// PendingRecoveryRefunds returns duplicate payments not yet refunded: an
	// attempt's, or with attemptID 0 every attempt's.
	PendingRecoveryRefunds(ctx context.Context, attemptID int64) ([]RecoveryRefund, error)
	// FinishRecoveryRefund records a refund made on Stripe (refundID), or
	// with refundID "" the failure that leaves it pending.
	FinishRecoveryRefund(ctx context.Context, id int64, refundID, failure string) error
	// FailedIntentsToCancel returns the failed PaymentIntents of recovered
	// attempts not yet cancelled: an attempt's, or with attemptID 0 every one's.
	FailedIntentsToCancel(ctx context.Context, attemptID int64) ([]FailedIntent, error)
	// FailedIntentCanceled records the cancel of an attempt's failed
	// PaymentIntent, or with failure set why it did not happen (to retry).
	FailedIntentCanceled(ctx context.Context, attemptID int64, failure string) error

	// Notifications returns a page of the admin's outbox (OutboxQuery).
	Notifications(ctx context.Context, q OutboxQuery) ([]Notification, error)
	// FailedNotifications counts the messages given up on (NotificationFailed).
	FailedNotifications(ctx context.Context) (int, error)
	// Notification returns one notification, or ErrNotFound.
	Notification(ctx context.Context, id int64) (Notification, error)
	// ClaimNotification holds an unsent notification for one sender for
	// lease; another sender's claim fails meanwhile. Claiming a failed
	// message revives it, with a new run of tries. It returns false with
	// the notification as it is when it is sent, has no recipient or is
	// held by another sender; ErrNotFound when there is none.
	ClaimNotification(ctx context.Context, id int64, lease time.Duration) (Notification, bool, error)
	// RecordNotificationSent marks a claimed notification sent and ends the claim.
	RecordNotificationSent(ctx context.Context, id int64) error
	// RecordNotificationFailure records a failed send and ends the claim;
	// with failed set, the message is failed (no more tries).
	RecordNotificationFailure(ctx context.Context, id int64, lastError string, failingSince time.Time, failed bool) error
	// ResendNotification makes a failed notification unfailed and enqueues
	// its send job, in one transaction; false when it was not failed.
	ResendNotification(ctx context.Context, id int64) (bool, error)
	// RecoveryRemindersDue returns the payment_failed notifications created
	// between from and through whose attempt is still unpaid and has had no
	// reminder, oldest first.
	RecoveryRemindersDue(ctx context.Context, from, through time.Time, limit int) ([]Notification, error)
	// ExpiringDefaultCards returns active default cards, of customers with
	// an email, that expire in a month from first through last (first days
	// of months) and have had no expiry reminder for that expiry.
	ExpiringDefaultCards(ctx context.Context, first, last time.Time, limit int) ([]SavedPaymentMethod, error)
	// RecordCardExpiryReminder writes the reminder of a card's expiry and its
	// notification in one transaction, unless that card and expiry already
	// had one (false).
	RecordCardExpiryReminder(ctx context.Context, pm PaymentMethod, n Notification) (bool, error)

	// Secret returns the named shared secret, creating it on first use.
	Secret(ctx context.Context, name string) ([]byte, error)
	// SessionPaymentMethod returns the payment method a completed setup
	// session saved, or ErrNotFound.
	SessionPaymentMethod(ctx context.Context, sessionID string) (PaymentMethod, error)
	// ListPaymentMethods returns saved payment methods, newest first.
	ListPaymentMethods(ctx context.Context, q ListQuery) ([]SavedPaymentMethod, error)
	// Ping tells whether the store can be reached.
	Ping(ctx context.Context) error
}

// ListQuery selects a page of saved payment methods. Before, when set, is the
// keyset cursor: only rows saved before it (ties broken by id) are returned.
type ListQuery struct {
	Limit    int
	Before   time.Time
	BeforeID string
	// Search is a last 4 (four digits) or the start of an email.
	Search string
	Filter string
	// Now anchors the "expiring" filter.
	Now time.Time
}

// List filters.
const (
	FilterExpiring = "expiring"
	FilterDetached = "detached"
	FilterFailing  = "failing"
)

// ExpiringWithin is how far ahead the "expiring" filter looks.
const ExpiringWithin = 60 * 24 * time.Hour

// Totals summarise the saved payment methods.
type Totals struct {
	Customers int
	Active    int
	Detached  int
	Expiring  int
	Failing   int
}

// Gateway is the part of Stripe the store uses.
type Gateway interface {
	// CreateCustomer creates a Stripe Customer and returns its id.
	CreateCustomer(ctx context.Context, email, idempotencyKey string) (string, error)
	// CreateSetupSession creates a Checkout Session in setup mode.
	CreateSetupSession(ctx context.Context, p SetupSessionParams) (CheckoutSession, error)
	// SetupSession retrieves a setup-mode Checkout Session with its
	// SetupIntent and PaymentMethod, in one call.
	RetrieveSession(ctx context.Context, id string) (SessionState, error)
	// AttachPaymentMethod attaches a payment method to a Stripe Customer.
	AttachPaymentMethod(ctx context.Context, paymentMethodID, stripeCustomerID string) error
	// SetupIntent retrieves a SetupIntent with its payment method and customer.
	SetupIntent(ctx context.Context, id string) (SetupIntentState, error)
	// PaymentMethod retrieves a payment method with its customer.
	PaymentMethod(ctx context.Context, id string) (PaymentMethodState, error)
	// Event retrieves one event.
	Event(ctx context.Context, id string) (Event, error)
	// ListEvents lists the events of these types created since then, oldest first.
	ListEvents(ctx context.Context, since time.Time, types []string) ([]Event, error)
	// ChargeOffSession creates and confirms a PaymentIntent with the customer
	// away. A card decline (HTTP 402) is an outcome, not an error.
	ChargeOffSession(ctx context.Context, c OffSessionCharge) (ChargeOutcome, error)
	// PaymentIntent retrieves a PaymentIntent.
	PaymentIntent(ctx context.Context, id string) (ChargeOutcome, error)
	// CreatePaymentSession creates a payment-mode Checkout Session that saves
	// the card used for later off-session charges.
	CreatePaymentSession(ctx context.Context, p PaymentSessionParams) (CheckoutSession, error)
	// SetDefaultPaymentMethod makes a card the Stripe Customer's default.
	SetDefaultPaymentMethod(ctx context.Context, stripeCustomerID, paymentMethodID string) error
	// DetachPaymentMethod detaches a card from its customer.
	DetachPaymentMethod(ctx context.Context, paymentMethodID string) error
	// ExpireSession expires an open Checkout Session so that it can no
	// longer be paid. A session that is not open is a *GatewayError (400).
	ExpireSession(ctx context.Context, id string) (SessionState, error)
	// RefundPayment refunds a PaymentIntent, in full or for an amount. The
	// idempotency key makes every repeat answer with the same refund.
	RefundPayment(ctx context.Context, p RefundParams) (Refund, error)
	// Refund retrieves a refund.
	Refund(ctx context.Context, id string) (Refund, error)
	// Charge retrieves a charge: what it paid and how much of it is refunded.
	Charge(ctx context.Context, id string) (ChargeState, error)
	// CancelPaymentIntent cancels a PaymentIntent that will not be paid. A
	// PaymentIntent already cancelled is a *GatewayError (400,
	// payment_intent_unexpected_state).
	CancelPaymentIntent(ctx context.Context, paymentIntentID, idempotencyKey string) error
}

// FailedIntent is the failed PaymentIntent of a charge the customer paid
// through the recovery link instead: cancelled on Stripe, so that it does
// not stay "Incomplete" in the Dashboard for ever.
type FailedIntent struct {
	AttemptID       int64
	PaymentIntentID string
}

// Refund is a refund as Stripe answered it.
type Refund struct {
	ID              string
	Status          string
	PaymentIntentID string
	Amount          int64
	Currency        string
	// LocalID is the ChargeRefund named in its metadata; 0 for a refund
	// made outside this store.
	LocalID       int64
	FailureReason string
}

// RefundParams are the inputs of a refund. Amount 0 refunds what is left.
type RefundParams struct {
	PaymentIntentID string
	Amount          int64
	Reason          string
	IdempotencyKey  string
	// LocalID, when set, is written to the refund's metadata, so that its
	// events find the row made before the call.
	LocalID int64
}

// ChargeState is a charge as read from Stripe.
type ChargeState struct {
	ID              string
	PaymentIntentID string
	AmountRefunded  int64
}

// OffSessionCharge is a charge of a saved card without the customer present.
type OffSessionCharge struct {
	AttemptID        int64
	StripeCustomerID string
	PaymentMethodID  string
	Money            Money
	IdempotencyKey   string
}

// ChargeOutcome is what Stripe answered for a PaymentIntent. Code and
// DeclineCode are set when the card was declined or needs authentication.
type ChargeOutcome struct {
	PaymentIntentID string
	Status          string // Stripe's PaymentIntent status
	Code            string
	DeclineCode     string
	Message         string
	// AttemptID is the charge attempt named in the PaymentIntent's metadata.
	AttemptID int64
}

// PaymentSessionParams are the inputs of a recovery Checkout Session.
type PaymentSessionParams struct {
	AttemptID        int64
	StripeCustomerID string
	Money            Money
	Description      string
	// Items, when set, are the session's line items (they add up to
	// Money); without them it has one line, Description, for Money.
	Items          []LineItem
	SuccessURL     string
	CancelURL      string
	IdempotencyKey string
}

// SetupIntentState is a SetupIntent as read from Stripe, with what it refers to.
type SetupIntentState struct {
	SetupIntent   SetupIntent
	PaymentMethod *PaymentMethod
	Customer      *StripeCustomer
}

// PaymentMethodState is a payment method as read from Stripe, with its customer.
type PaymentMethodState struct {
	PaymentMethod PaymentMethod
	Customer      *StripeCustomer
}

// SetupSessionParams are the inputs of a setup-mode Checkout Session.
type SetupSessionParams struct {
	StripeCustomerID string
	// CustomerEmail prefills Checkout for a customer with no Stripe Customer
	// yet; the card is attached to one when it is saved.
	CustomerEmail  string
	Currency       string
	SuccessURL     string
	CancelURL      string
	IdempotencyKey string
	// Metadata is set on the session, e.g. the order it saves a card for.
	Metadata map[string]string
}

// SessionState is what Stripe says of a Checkout Session at the moment it
// is asked, in either mode. PaymentMethod is the card of its SetupIntent
// (setup mode) or PaymentIntent (payment mode), nil until there is one.
type SessionState struct {
	ID                string
	Mode              string
	Status            string
	PaymentStatus     string
	Currency          string
	StripeCustomerID  string
	Email             string
	SetupIntentID     string
	SetupIntentStatus string
	PaymentIntentID   string
	// PaymentIntentStatus is set when the PaymentIntent was expanded.
	PaymentIntentStatus string
	PaymentMethod       *PaymentMethod
	// AttemptID is the charge attempt a recovery session pays for, from its metadata.
	AttemptID int64
	// SyncedAt is when Stripe was asked.
	SyncedAt time.Time
}

package billing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ChargeRequest is an admin's (or a script's) request to charge a saved card.
type ChargeRequest struct {
	PaymentMethodID string
	Amount          string
	Currency        string
	// IdempotencyKey identifies the attempt: the admin form carries one per
	// rendering, so a double submit names the same attempt. Empty: a fresh one.
	IdempotencyKey string
	// Description, when set, says what the charge is for ("Order #1042").
	Description string
	// Items, when set, are the lines the charge pays for; they must add up
	// to the amount. A recovery link's session shows them.
	Items []LineItem
}

var (
	paymentMethodIDPattern = regexp.MustCompile(`^pm_[A-Za-z0-9]{1,250}$`)
	idempotencyKeyPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{16,255}$`)
)

// ValidPaymentMethodID tells whether id has the shape of a PaymentMethod id.
func ValidPaymentMethodID(id string) bool { return paymentMethodIDPattern.MatchString(id) }

// NewIdempotencyKey returns a fresh key for a charge form or a script.
func NewIdempotencyKey() string { return newIdempotencyKey() }

// ChargePlan is a checked charge request: the card, the amount and the
// attempt's key, as a confirmation names them before anything is sent.
type ChargePlan struct {
	Card  SavedPaymentMethod
	Money Money
	Key   string
}

// PrepareCharge checks a charge request without charging: bad input is an
// *InvalidError, and neither the database nor Stripe is written.
func (s *Service) PrepareCharge(ctx context.Context, req ChargeRequest) (ChargePlan, error) {
	id := strings.TrimSpace(req.PaymentMethodID)
	if !ValidPaymentMethodID(id) {
		return ChargePlan{}, Invalid("payment_method", "Choose a saved card (an id like pm_...).")
	}
	currency := req.Currency
	if strings.TrimSpace(currency) == "" {
		currency = s.currency
	}
	money, err := ParseMoney(req.Amount, currency)
	if err != nil {
		return ChargePlan{}, err
	}
	key := req.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	if !idempotencyKeyPattern.MatchString(key) {
		return ChargePlan{}, Invalid("form", "The form has expired; open the page again and resubmit.")
	}
	if err := checkItems(req.Items, money); err != nil {
		return ChargePlan{}, err
	}
	pm, err := s.store.SavedPaymentMethod(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return ChargePlan{}, Invalid("payment_method", "No saved card %s.", id)
	}
	if err != nil {
		return ChargePlan{}, fmt.Errorf("charge %s: %w", id, err)
	}
	if pm.Status != PaymentMethodActive || pm.StripeCustomerID == "" {
		return ChargePlan{}, Invalid("payment_method", "Card %s is detached from its customer and cannot be charged.", id)
	}
	return ChargePlan{Card: pm, Money: money, Key: key}, nil
}

// Charge charges a saved card off-session. Bad input is an *InvalidError and
// calls Stripe zero times. The attempt is committed, with its idempotency
// key, before Stripe is called; a decline or an authentication demand is a
// normal outcome (the attempt says which), and it writes the customer a
// notification with a recovery link in the same transaction.
func (s *Service) Charge(ctx context.Context, req ChargeRequest) (ChargeAttempt, error) {
	plan, err := s.PrepareCharge(ctx, req)
	if err != nil {
		return ChargeAttempt{}, err
	}
	pm, money, key := plan.Card, plan.Money, plan.Key
	attempt, created, err := s.store.CreateChargeAttempt(ctx, ChargeAttempt{
		CustomerID:      pm.CustomerID,
		PaymentMethodID: pm.ID,
		Money:           money,
		IdempotencyKey:  key,
		Status:          ChargeProcessing,
		Description:     strings.TrimSpace(req.Description),
	}, req.Items)
	if err != nil {
		return ChargeAttempt{}, fmt.Errorf("charge %s: %w", pm.ID, err)
	}
	if !created && (attempt.PaymentMethodID != pm.ID || attempt.Money != money) {
		// The key of a form already submitted (the back button), with other values.
		return ChargeAttempt{}, Invalid("form", "This form was already used for another charge; open the page again.")
	}
	if !created && attempt.Status != ChargeProcessing {
		return attempt, nil // a double submit of a settled attempt
	}
	// Right after the attempt's commit and before Stripe: a crash in between
	// leaves an attempt that was never sent, not a charge nobody made.
	detail := attemptDetail(attempt)
	if !created {
		detail += ", resubmitted"
	}
	if err := s.audit(ctx, ActionCharge, pm.ID, money, detail); err != nil {
		// Not sent: nothing was charged. The same form (its key) sends it later.
		return ChargeAttempt{}, err
	}
	return s.sendCharge(ctx, attempt)
}

// RetryCharge sends an attempt that is still processing (its outcome
// unknown: a timeout, or a crash before our commit) to Stripe again with its
// stored idempotency key, so Stripe answers with the PaymentIntent it
// already made rather than charging twice.
func (s *Service) RetryCharge(ctx context.Context, attemptID int64) (ChargeAttempt, error) {
	attempt, err := s.store.ChargeAttempt(ctx, attemptID)
	if err != nil {
		return ChargeAttempt{}, fmt.Errorf("retry charge %d: %w", attemptID, err)
	}
	if attempt.Status != ChargeProcessing {
		return attempt, nil
	}
	if s.now().Sub(attempt.CreatedAt) > idempotencyKeyLifetime {
		// Stripe has forgotten the key: a resend could charge a second time.
		return attempt, Invalid("attempt", "This charge is over a day old and its outcome is unknown; check the payment on Stripe's dashboard before charging again.")
	}
	if err := s.audit(ctx, ActionChargeRetry, attempt.PaymentMethodID, attempt.Money, attemptDetail(attempt)); err != nil {
		return attempt, err
	}
	return s.sendCharge(ctx, attempt)
}

// attemptDetail names an attempt in the audit log.
func attemptDetail(a ChargeAttempt) string {
	detail := fmt.Sprintf("attempt %d, customer %d", a.ID, a.CustomerID)
	if a.Description != "" {
		detail += ", " + a.Description
	}
	return detail
}

// maxItemName is the longest line item name Checkout is given.
const maxItemName = 250

// checkItems checks that a charge's lines are whole and add up to its amount.
func checkItems(items []LineItem, m Money) error {
	var total int64
	for _, it := range items {
		if strings.TrimSpace(it.Name) == "" || len(it.Name) > maxItemName || it.UnitAmount <= 0 || it.Quantity <= 0 || it.UnitAmount > maxAmount || it.Quantity > maxAmount {
			return Invalid("items", "A line of the charge is incomplete.")
		}
		total += it.UnitAmount * it.Quantity
		if total > maxAmount {
			break
		}
	}
	if len(items) > 0 && total != m.Amount {
		return Invalid("items", "The lines add up to %s, not %s.", Money{Amount: total, Currency: m.Currency}, m)
	}
	return nil
}

// idempotencyKeyLifetime is how long Stripe remembers an idempotency key
// (24 hours), less a margin for clocks.
const idempotencyKeyLifetime = 23 * time.Hour

func (s *Service) sendCharge(ctx context.Context, attempt ChargeAttempt) (ChargeAttempt, error) {
	outcome, err := s.gateway.ChargeOffSession(ctx, OffSessionCharge{
		AttemptID:        attempt.ID,
		StripeCustomerID: attempt.StripeCustomerID,
		PaymentMethodID:  attempt.PaymentMethodID,
		Money:            attempt.Money,
		IdempotencyKey:   attempt.IdempotencyKey,
	})
	if gatewayErr, ok := refusedByStripe(err); ok {
		// Stripe refused the request itself: definitive, and not the card's doing.
		outcome = ChargeOutcome{Code: gatewayErr.Code, Message: gatewayErr.Message}
		if MissingCustomer(err) {
			outcome.Message = "Stripe has no customer " + attempt.StripeCustomerID + " any more (deleted on Stripe, or saved on another Stripe account), so nothing was charged. The customer must save a card again before it can be charged."
			if rerr := s.retireStripeCustomer(ctx, attempt.StripeCustomerID); rerr != nil {
				s.log.Error("forget a Stripe Customer that Stripe does not have", "stripe_customer_id", attempt.StripeCustomerID, "err", rerr)
			}
		}
		return s.finishCharge(ctx, attempt, outcome, ChargeFailed)
	}
	if err != nil {
		// Unknown outcome: the attempt stays processing for a retry with its key.
		s.observer.ChargeSettled(ChargeProcessing)
		return attempt, fmt.Errorf("charge attempt %d: %w", attempt.ID, err)
	}
	return s.finishCharge(ctx, attempt, outcome, chargeStatus(outcome))
}

// finishCharge records Stripe's answer with what it sets going (the
// customer's message, or the retries of a soft decline), in one transaction.
func (s *Service) finishCharge(ctx context.Context, attempt ChargeAttempt, outcome ChargeOutcome, status string) (ChargeAttempt, error) {
	s.observer.ChargeSettled(status)
	next, err := s.chargeFollowUp(ctx, attempt, status, outcome)
	if err != nil {
		return attempt, fmt.Errorf("charge attempt %d: %w", attempt.ID, err)
	}
	finished, err := s.store.FinishChargeAttempt(ctx, attempt.ID, outcome, status, next)
	if err != nil {
		return attempt, fmt.Errorf("charge attempt %d: record outcome: %w", attempt.ID, err)
	}
	s.afterPaidRetry(ctx, next)
	return s.withPlan(finished), nil
}

// refusedByStripe tells whether Stripe refused a request for good (a 4xx
// other than 409, a key in flight, and 429, too many requests): sending it
// again would be refused again, so nothing happened and nothing will.
func refusedByStripe(err error) (*GatewayError, bool) {
	var ge *GatewayError
	if errors.As(err, &ge) && ge.HTTPStatus >= 400 && ge.HTTPStatus < 500 && ge.HTTPStatus != 409 && ge.HTTPStatus != 429 {
		return ge, true
	}
	return nil, false
}

// chargeStatus maps Stripe's answer to the admin's status words.
func chargeStatus(o ChargeOutcome) string {
	switch {
	case o.Status == "succeeded":
		return ChargeSucceeded
	case o.Code == "authentication_required" || o.DeclineCode == "authentication_required" || o.Status == "requires_action":
		return ChargeAuthenticationRequired
	case o.Code != "" || o.Status == "requires_payment_method" || o.Status == "canceled":
		return ChargeDeclined
	default:
		return ChargeProcessing
	}
}

func (s *Service) paymentFailedNotification(a ChargeAttempt, status string) Notification {
	link := s.RecoveryLink(a.ID)
	reason := "your card was declined"
	if status == ChargeAuthenticationRequired {
		reason = "your bank asked to confirm it was you"
	}
	what := a.Money.String()
	if a.Description != "" {
		what += " for " + a.Description
	}
	return Notification{
		CustomerID:      a.CustomerID,
		ChargeAttemptID: a.ID,
		CreatedAt:       s.now(),
		Kind:            NotificationPaymentFailed,
		Recipient:       a.CustomerEmail,
		Subject:         "Action needed: your payment of " + a.Money.String() + " did not go through",
		Body: "Hello,\n\nWe tried to charge " + what + " to the card you saved with us, but " + reason + ".\n\n" +
			"You can finish paying here, with the same card or another one:\n\n" + link + "\n\n" +
			"The link works for " + fmt.Sprint(int(RecoveryLinkTTL.Hours()/24)) + " days. Thank you.\n",
		Link: link,
	}
}

// ChargeAttempt returns one attempt.
func (s *Service) ChargeAttempt(ctx context.Context, id int64) (ChargeAttempt, error) {
	a, err := s.store.ChargeAttempt(ctx, id)
	if err != nil {
		return ChargeAttempt{}, fmt.Errorf("charge attempt %d: %w", id, err)
	}
	return s.withPlan(a), nil
}

// DefaultPaymentMethodOf picks the card to charge for a customer: the
// default, else the newest active card.
func (s *Service) DefaultPaymentMethodOf(ctx context.Context, customer Customer) (string, error) {
	if customer.DefaultPaymentMethodID != "" {
		return customer.DefaultPaymentMethodID, nil
	}
	cards, err := s.store.CustomerPaymentMethods(ctx, customer.ID)
	if err != nil {
		return "", fmt.Errorf("cards of customer %d: %w", customer.ID, err)
	}
	for _, c := range cards {
		if c.Status == PaymentMethodActive {
			return c.ID, nil
		}
	}
	return "", Invalid("customer", "Customer %d has no active card.", customer.ID)
}

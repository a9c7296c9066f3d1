package billing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Overview is the head of the admin list: totals, and when the last webhook
// event arrived, so that a stalled endpoint shows.
type Overview struct {
	Totals          Totals
	LastEventAt     time.Time
	SinceLastEvent  time.Duration
	NoEventReceived bool
}

// Overview returns the admin list's summary.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	now := s.now()
	totals, err := s.store.Totals(ctx, now)
	if err != nil {
		return Overview{}, fmt.Errorf("overview: %w", err)
	}
	last, err := s.store.LastEventReceivedAt(ctx)
	if err != nil {
		return Overview{}, fmt.Errorf("overview: %w", err)
	}
	o := Overview{Totals: totals, LastEventAt: last, NoEventReceived: last.IsZero()}
	if !last.IsZero() {
		o.SinceLastEvent = now.Sub(last)
	}
	return o, nil
}

var lastFourPattern = regexp.MustCompile(`^[0-9]{4}$`)

// NormalizeListQuery validates what the admin typed into the list's search
// and filter, with a message for each mistake.
func (s *Service) NormalizeListQuery(q ListQuery) (ListQuery, error) {
	q.Search = strings.ToLower(strings.TrimSpace(q.Search))
	if len(q.Search) > 254 {
		return q, Invalid("q", "Search for a last 4 or the start of an email.")
	}
	switch q.Filter {
	case "", FilterExpiring, FilterDetached, FilterFailing:
	default:
		return q, Invalid("filter", "Unknown filter %q.", q.Filter)
	}
	if q.Now.IsZero() {
		q.Now = s.now()
	}
	return q, nil
}

// ParseListCursor reads the keyset cursor of the admin list's next-page
// link: when the last row shown was saved, and its id. Both empty is the
// first page.
func ParseListCursor(before, beforeID string) (time.Time, string, error) {
	if before == "" && beforeID == "" {
		return time.Time{}, "", nil
	}
	t, err := time.Parse(time.RFC3339Nano, before)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 || (beforeID != "" && !ValidPaymentMethodID(beforeID)) {
		return time.Time{}, "", Invalid("before", "The page link is malformed; start again from the first page.")
	}
	return t, beforeID, nil
}

// parseIDCursor reads a keyset cursor of a list ordered by (created_at,
// id) with numeric ids, as idCursor writes it; both empty is no cursor.
func parseIDCursor(before, beforeID string) (time.Time, int64, error) {
	if before == "" && beforeID == "" {
		return time.Time{}, 0, nil
	}
	t, err1 := time.Parse(time.RFC3339Nano, before)
	id, err2 := strconv.ParseInt(beforeID, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, 0, Invalid("before", "The page link is malformed; start again from the first page.")
	}
	return t, id, nil
}

// idCursor is the cursor of the page after a row created at, with id.
func idCursor(at time.Time, id int64) (before, beforeID string) {
	return at.UTC().Format(time.RFC3339Nano), strconv.FormatInt(id, 10)
}

// SearchIsLastFour tells whether a search names the last 4 digits of a card.
func SearchIsLastFour(search string) bool { return lastFourPattern.MatchString(search) }

// CustomerDetail is everything the admin's customer page shows.
type CustomerDetail struct {
	Customer       Customer
	PaymentMethods []PaymentMethod
	Attempts       []ChargeAttempt
	Events         []StoredEvent
}

// CustomerDetail gathers one customer's cards, charges and events.
func (s *Service) CustomerDetail(ctx context.Context, id int64) (CustomerDetail, error) {
	c, err := s.store.Customer(ctx, id)
	if err != nil {
		return CustomerDetail{}, fmt.Errorf("customer %d: %w", id, err)
	}
	d := CustomerDetail{Customer: c}
	if d.PaymentMethods, err = s.store.CustomerPaymentMethods(ctx, id); err != nil {
		return CustomerDetail{}, fmt.Errorf("customer %d: %w", id, err)
	}
	if d.Attempts, err = s.store.CustomerChargeAttempts(ctx, id); err != nil {
		return CustomerDetail{}, fmt.Errorf("customer %d: %w", id, err)
	}
	for i := range d.Attempts {
		d.Attempts[i] = s.withPlan(d.Attempts[i])
	}
	if d.Events, err = s.store.CustomerEvents(ctx, id, 20); err != nil {
		return CustomerDetail{}, fmt.Errorf("customer %d: %w", id, err)
	}
	return d, nil
}

// customerCard loads a card and checks that it is the customer's.
func (s *Service) customerCard(ctx context.Context, customerID int64, pmID string) (SavedPaymentMethod, error) {
	if !ValidPaymentMethodID(pmID) {
		return SavedPaymentMethod{}, Invalid("payment_method", "Choose a saved card.")
	}
	pm, err := s.store.SavedPaymentMethod(ctx, pmID)
	if errors.Is(err, ErrNotFound) || (err == nil && pm.CustomerID != customerID) {
		return SavedPaymentMethod{}, Invalid("payment_method", "Card %s is not this customer's.", pmID)
	}
	if err != nil {
		return SavedPaymentMethod{}, fmt.Errorf("card %s: %w", pmID, err)
	}
	return pm, nil
}

// SetDefault makes an active card the customer's default, on Stripe and here.
func (s *Service) SetDefault(ctx context.Context, customerID int64, pmID string) error {
	pm, err := s.customerCard(ctx, customerID, pmID)
	if err != nil {
		return err
	}
	if pm.Status != PaymentMethodActive {
		return Invalid("payment_method", "A detached card cannot be the default.")
	}
	if err := s.audit(ctx, ActionCardDefault, pm.ID, Money{}, fmt.Sprintf("customer %d", customerID)); err != nil {
		return err
	}
	if err := s.gateway.SetDefaultPaymentMethod(ctx, pm.StripeCustomerID, pm.ID); err != nil {
		return fmt.Errorf("set default %s: %w", pm.ID, err)
	}
	if err := s.store.SetDefaultPaymentMethod(ctx, customerID, pm.ID); err != nil {
		return fmt.Errorf("set default %s: %w", pm.ID, err)
	}
	return nil
}

// Detach detaches a card on Stripe and records it as detached, without
// waiting for the payment_method.detached event.
func (s *Service) Detach(ctx context.Context, customerID int64, pmID string) error {
	pm, err := s.customerCard(ctx, customerID, pmID)
	if err != nil {
		return err
	}
	if pm.Status != PaymentMethodActive {
		return nil
	}
	if err := s.audit(ctx, ActionCardDetach, pm.ID, Money{}, fmt.Sprintf("customer %d", customerID)); err != nil {
		return err
	}
	syncedAt := s.now()
	err = s.gateway.DetachPaymentMethod(ctx, pm.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("detach %s: %w", pm.ID, err)
	}
	detached := pm.PaymentMethod
	detached.Status = PaymentMethodDetached
	detached.StripeCustomerID = ""
	detached.SyncedAt = syncedAt
	if err := s.store.Apply(ctx, "", Effect{PaymentMethods: []PaymentMethod{detached}}, false); err != nil {
		return fmt.Errorf("detach %s: %w", pm.ID, err)
	}
	return nil
}

// FindCustomer finds a customer by our id, Stripe id or email, for operators.
func (s *Service) FindCustomer(ctx context.Context, ref string) (Customer, error) {
	ref = strings.TrimSpace(ref)
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return s.store.Customer(ctx, id)
	}
	if strings.HasPrefix(ref, "cus_") {
		return s.store.CustomerByStripeID(ctx, ref)
	}
	email, err := NormalizeEmail(ref)
	if err != nil {
		return Customer{}, Invalid("customer", "Name a customer by email, id or cus_ id.")
	}
	return s.store.CustomerByEmail(ctx, email)
}

// CustomerOfPaymentMethod returns the customer a card belongs to.
func (s *Service) CustomerOfPaymentMethod(ctx context.Context, pmID string) (int64, error) {
	if !ValidPaymentMethodID(pmID) {
		return 0, ErrNotFound
	}
	pm, err := s.store.SavedPaymentMethod(ctx, pmID)
	if err != nil {
		return 0, err
	}
	if pm.CustomerID == 0 {
		return 0, ErrNotFound
	}
	return pm.CustomerID, nil
}

var eventIDPattern = regexp.MustCompile(`^evt_[A-Za-z0-9_]{1,250}$`)

// ValidEventID tells whether id has the shape of an event id.
func ValidEventID(id string) bool { return eventIDPattern.MatchString(id) }

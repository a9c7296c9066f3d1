package billing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CardLinkTTL is how long the link of a card expiry reminder works.
const CardLinkTTL = 30 * 24 * time.Hour

// SendCardExpiryReminders writes, for each customer whose default card
// expires this month or next, one message with a link to save a new card,
// and returns how many it wrote. The message is unique per card and expiry
// in the database, so runs repeated, or on several replicas at once, write
// it once; a card the account updater gives a new expiry is reminded of
// that one in its time.
func (s *Service) SendCardExpiryReminders(ctx context.Context) (int, error) {
	now := s.now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	cards, err := s.store.ExpiringDefaultCards(ctx, thisMonth, thisMonth.AddDate(0, 1, 0), reminderBatch)
	if err != nil {
		return 0, fmt.Errorf("card expiry reminders: %w", err)
	}
	written := 0
	for _, card := range cards {
		ok, err := s.store.RecordCardExpiryReminder(ctx, card.PaymentMethod, s.cardExpiringNotification(card))
		if err != nil {
			return written, fmt.Errorf("card expiry reminder of %s: %w", card.ID, err)
		}
		if ok {
			written++
		}
	}
	return written, nil
}

func (s *Service) cardExpiringNotification(card SavedPaymentMethod) Notification {
	link := s.CardLink(card.CustomerID)
	expiry := fmt.Sprintf("%02d/%d", card.ExpMonth, card.ExpYear)
	return Notification{
		CustomerID: card.CustomerID,
		CreatedAt:  s.now(),
		Kind:       NotificationCardExpiring,
		Recipient:  card.CustomerEmail,
		Subject:    "Your card ending in " + card.Last4 + " expires soon",
		Body: "Hello,\n\nThe card ending in " + card.Last4 + " that you saved with us expires at the end of " + expiry + ". " +
			"So that your next payment goes through, please save a new card here:\n\n" + link + "\n\n" +
			"The card you save becomes the one we charge. The link works for " + fmt.Sprint(int(CardLinkTTL.Hours()/24)) + " days. Thank you.\n",
		Link: link,
	}
}

// CardLink is the signed, expiring link a customer follows to save a new
// card that becomes their default: /card/{token}.
func (s *Service) CardLink(customerID int64) string {
	return s.baseURL + "/card/" + s.signedToken(cardTokenPurpose, customerID, s.now().Add(CardLinkTTL))
}

// StartCardUpdate turns a card link into the URL of a setup-mode Checkout
// Session for its customer; the card saved there becomes the customer's
// default, here and on Stripe, whichever of the return page and the
// webhook records it. An expired or tampered link is ErrLinkExpired or
// ErrLinkInvalid.
func (s *Service) StartCardUpdate(ctx context.Context, token string) (string, error) {
	id, err := s.verifySignedToken(cardTokenPurpose, token)
	if err != nil {
		return "", err
	}
	customer, err := s.store.Customer(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && customer.Email == "") {
		return "", ErrLinkInvalid
	}
	if err != nil {
		return "", fmt.Errorf("card link of customer %d: %w", id, err)
	}
	session, err := s.startSetupSession(ctx, customer, customer.Email, SetupOptions{Currency: s.currency, MakesDefault: true})
	return session.URL, err
}

package billing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ManageLinkTTL is how long a link to manage one's cards works: long enough
// to read the email and act, short enough that a forwarded or leaked
// message soon opens nothing.
const ManageLinkTTL = time.Hour

// ManageLinkPath is the path of the page a manage link opens, before its token.
const ManageLinkPath = "/account/"

// RequestManageLink writes the customer whose email this is a message with
// a signed link to manage their saved cards (ManageLink). An email that is
// no customer's writes nothing and is no error, so the answer tells nobody
// whether the address is known; only a malformed email is refused.
func (s *Service) RequestManageLink(ctx context.Context, rawEmail string) error {
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return err
	}
	customer, err := s.store.CustomerByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("manage link: %w", err)
	}
	n := s.manageCardsNotification(customer)
	if err := s.store.FollowUp(ctx, ChargeFollowUp{Notify: &n}); err != nil {
		return fmt.Errorf("manage link of customer %d: %w", customer.ID, err)
	}
	return nil
}

func (s *Service) manageCardsNotification(c Customer) Notification {
	link := s.ManageLink(c.ID)
	return Notification{
		CustomerID: c.ID,
		CreatedAt:  s.now(),
		Kind:       NotificationManageCards,
		Recipient:  c.Email,
		Subject:    "Your link to manage your saved cards",
		Body: "Hello,\n\nYou asked to manage the cards saved with us under this email address. " +
			"Follow this link to see them, remove one, choose the one we charge, or add another:\n\n" + link + "\n\n" +
			"The link works for one hour. If you did not ask for it, you can ignore this message: nothing changes unless the link is used.\n",
		Link: link,
	}
}

// ManageLink is the signed, expiring link to a customer's cards page.
func (s *Service) ManageLink(customerID int64) string {
	return s.baseURL + ManageLinkPath + s.signedToken(manageTokenPurpose, customerID, s.now().Add(ManageLinkTTL))
}

// CardHolder is the customer a manage link names, with their cards.
type CardHolder struct {
	Customer Customer
	// Cards are every card saved under the customer, newest first, detached
	// ones included (they are named in messages after a removal).
	Cards []PaymentMethod
	// LinkExpires is when the link stops working.
	LinkExpires time.Time
}

// Active returns the cards that can be charged, newest first.
func (h CardHolder) Active() []PaymentMethod {
	var out []PaymentMethod
	for _, pm := range h.Cards {
		if pm.Status == PaymentMethodActive {
			out = append(out, pm)
		}
	}
	return out
}

// Card returns one of the customer's cards by id.
func (h CardHolder) Card(id string) (PaymentMethod, bool) {
	for _, pm := range h.Cards {
		if pm.ID == id {
			return pm, true
		}
	}
	return PaymentMethod{}, false
}

// Default returns the customer's default card, if they have one.
func (h CardHolder) Default() (PaymentMethod, bool) {
	if h.Customer.DefaultPaymentMethodID == "" {
		return PaymentMethod{}, false
	}
	return h.Card(h.Customer.DefaultPaymentMethodID)
}

// CardHolderByLink returns the customer a manage link names, with their
// cards. An expired or tampered link is ErrLinkExpired or ErrLinkInvalid,
// and so is one whose customer no longer has an email to be reached at.
func (s *Service) CardHolderByLink(ctx context.Context, token string) (CardHolder, error) {
	id, expires, err := s.readSignedToken(manageTokenPurpose, token)
	if err != nil {
		return CardHolder{}, err
	}
	customer, err := s.store.Customer(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && customer.Email == "") {
		return CardHolder{}, ErrLinkInvalid
	}
	if err != nil {
		return CardHolder{}, fmt.Errorf("manage link of customer %d: %w", id, err)
	}
	cards, err := s.store.CustomerPaymentMethods(ctx, id)
	if err != nil {
		return CardHolder{}, fmt.Errorf("manage link of customer %d: %w", id, err)
	}
	return CardHolder{Customer: customer, Cards: cards, LinkExpires: expires}, nil
}

// AddCard opens a setup-mode Checkout Session for the customer of a manage
// link and returns its URL; Checkout comes back to returnPath. With
// makesDefault the card saved there becomes the customer's default, here
// and on Stripe; without, it becomes the default only if it is their first.
func (s *Service) AddCard(ctx context.Context, h CardHolder, makesDefault bool, returnPath string) (string, error) {
	session, err := s.startSetupSession(ctx, h.Customer, h.Customer.Email,
		SetupOptions{Currency: s.currency, MakesDefault: makesDefault, ReturnPath: returnPath})
	return session.URL, err
}

// RemoveCard detaches one of a customer's cards through Stripe. When it is
// their default and next names another of their active cards, that card
// becomes the default first, so that the customer is never left without
// one in between; with next empty they are left with no default.
func (s *Service) RemoveCard(ctx context.Context, customerID int64, pmID, next string) error {
	if next != "" {
		customer, err := s.store.Customer(ctx, customerID)
		if err != nil {
			return fmt.Errorf("remove card %s: %w", pmID, err)
		}
		if customer.DefaultPaymentMethodID == pmID {
			if next == pmID {
				return Invalid("new_default", "Choose another card to be the default instead of the one removed.")
			}
			if err := s.SetDefault(ctx, customerID, next); err != nil {
				return err
			}
		}
	}
	return s.Detach(ctx, customerID, pmID)
}

package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

// accountRequestPage asks for an email to send a manage link to; it is
// also the answer once one is sent, and the page of a link that cannot be used.
type accountRequestPage struct {
	Title   string
	Message string
	// Sent: the form was sent; the page says to check the inbox.
	Sent  bool
	Email string
	Error string
}

// accountRequest shows the form that emails a link to manage one's cards.
func (s *Server) accountRequest(w http.ResponseWriter, r *http.Request) error {
	p := accountRequestPage{Title: "Manage your saved cards",
		Message: "Enter the email you saved your cards under. We will email you a link to see them, remove one, choose the one we charge, or add another. No password needed."}
	if r.URL.Query().Get("sent") != "" {
		p = accountRequestPage{Title: "Check your email", Sent: true,
			Message: "If cards are saved under that address, we have emailed it a link to manage them. The link works for one hour. Nothing arrived? Check your spam folder, or send another link below."}
	}
	return s.render(w, r, http.StatusOK, "account_request", p)
}

// accountSend emails a manage link to the customer of the email typed, if
// there is one. Known or not, the answer is the same page, so the form
// tells nobody who is a customer.
func (s *Server) accountSend(w http.ResponseWriter, r *http.Request) error {
	email := r.PostFormValue("email")
	err := s.svc.RequestManageLink(r.Context(), email)
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.render(w, r, http.StatusBadRequest, "account_request", accountRequestPage{Title: "Manage your saved cards",
			Message: "Enter the email you saved your cards under, and we will email you a link to manage them.", Email: email, Error: invalid.Message})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/account?sent=1", http.StatusSeeOther)
	return nil
}

type accountPage struct {
	Token   string
	Email   string
	Expires string
	Cards   []accountCard
	Default string
	Error   string
	// NoDefault: the customer has no default card, so a card added now
	// becomes it unless they say otherwise.
	NoDefault bool
}

// accountCard is a card as its customer sees it on the manage page.
type accountCard struct {
	ID      string
	Name    string
	Expires string
	Default bool
}

// cardHolder reads the manage link of the route; a link that cannot be used
// has been answered with a page that offers a new one (ok false).
func (s *Server) cardHolder(w http.ResponseWriter, r *http.Request) (h billing.CardHolder, ok bool, err error) {
	h, err = s.svc.CardHolderByLink(r.Context(), chi.URLParam(r, "token"))
	w.Header().Set("Cache-Control", "no-store")
	// The token is in the path: a link followed from the page must not carry it.
	w.Header().Set("Referrer-Policy", "no-referrer")
	switch {
	case errors.Is(err, billing.ErrLinkExpired):
		return h, false, s.render(w, r, http.StatusGone, "account_request", accountRequestPage{Title: "This link has expired",
			Message: "Links to manage your cards work for one hour. Enter your email and we will send you a new one; nothing was changed."})
	case errors.Is(err, billing.ErrLinkInvalid):
		return h, false, s.render(w, r, http.StatusNotFound, "account_request", accountRequestPage{Title: "This link is not valid",
			Message: "Check that the whole link was copied from the email, or enter your email and we will send you a new one. Nothing was changed."})
	case err != nil:
		return h, false, err
	}
	return h, true, nil
}

// account is a customer's cards page, opened from the link we emailed them.
// Checkout comes back to it with ?session_id= (or ?canceled=1): the card
// saved there is recorded first, and the page shown again under its own
// address, saying what became of it.
func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("session_id") || q.Has("canceled") {
		message, err := s.returnFromCheckout(r)
		if err != nil {
			return err
		}
		return s.done(w, r, manageURL(chi.URLParam(r, "token")), message)
	}
	h, ok, err := s.cardHolder(w, r)
	if !ok {
		return err
	}
	return s.renderAccount(w, r, http.StatusOK, h, "")
}

// returnFromCheckout records the card of a setup session Checkout came back
// from, as /success does, and says what became of it. Any session of this
// store may be named, as on /success: it is recorded, never shown.
func (s *Server) returnFromCheckout(r *http.Request) (flash, error) {
	id := r.URL.Query().Get("session_id")
	if id == "" {
		return said("No card was added."), nil
	}
	result, err := s.svc.FinalizeSetup(r.Context(), id)
	switch {
	case errors.Is(err, billing.ErrNotFound):
		return flash{}, nil
	case err != nil:
		return flash{}, err
	case result.Pending:
		return said("Your card is being confirmed by your bank; it will appear here in a moment."), nil
	case result.MadeDefault:
		return said(cardName(&result.PaymentMethod) + " is saved, and is now the card we charge."), nil
	}
	return said(cardName(&result.PaymentMethod) + " is saved."), nil
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, h billing.CardHolder, message string) error {
	p := accountPage{Token: chi.URLParam(r, "token"), Email: h.Customer.Email, Expires: when(h.LinkExpires),
		Default: h.Customer.DefaultPaymentMethodID, Error: message}
	for _, pm := range h.Active() {
		p.Cards = append(p.Cards, accountCard{ID: pm.ID, Name: cardName(&pm), Expires: expiry(pm), Default: pm.ID == p.Default})
	}
	_, hasDefault := h.Default()
	p.NoDefault = !hasDefault
	return s.render(w, r, status, "account", p)
}

// accountAction is a card action on the cards page: a post without
// confirm=yes shows what it would do; with it, the action runs as the
// customer (audit-logged) and the page says what was done.
type accountAction struct {
	name    string
	confirm func(h billing.CardHolder, card billing.PaymentMethod) (confirmPage, error)
	run     func(s *Server, r *http.Request, h billing.CardHolder, card billing.PaymentMethod) (flash, error)
}

func (s *Server) accountAction(a accountAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h, ok, err := s.cardHolder(w, r)
		if !ok {
			return err
		}
		token := chi.URLParam(r, "token")
		card, found := h.Card(r.PostFormValue("payment_method"))
		if !found || card.Status != billing.PaymentMethodActive {
			return s.renderAccount(w, r, http.StatusBadRequest, h, "Choose one of your saved cards.")
		}
		if !confirmed(r) {
			p, err := a.confirm(h, card)
			if err != nil {
				return s.accountError(w, r, h, err)
			}
			p.Action, p.Back, p.BackLabel = manageURL(token)+"/"+a.name, manageURL(token), "Back to your cards"
			p.Fields = map[string]string{"payment_method": card.ID}
			return s.askToConfirm(w, r, p)
		}
		message, err := a.run(s, s.asCustomer(r, h), h, card)
		if err != nil {
			return s.accountError(w, r, h, err)
		}
		return s.done(w, r, manageURL(token), message)
	}
}

// manageURL is the cards page of a manage link's token.
func manageURL(token string) string {
	return billing.ManageLinkPath + url.PathEscape(token)
}

// accountError shows the cards page again with a refusal; other errors are error pages.
func (s *Server) accountError(w http.ResponseWriter, r *http.Request, h billing.CardHolder, err error) error {
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.renderAccount(w, r, http.StatusBadRequest, h, invalid.Message)
	}
	return err
}

// asCustomer is the request with the link's customer as the actor of its
// context, for the audit log; the page's layout still knows nobody signed in.
func (s *Server) asCustomer(r *http.Request, h billing.CardHolder) *http.Request {
	return r.WithContext(staff.WithActor(r.Context(), staff.CustomerActor(h.Customer.Email, s.clientAddr(r))))
}

var removeCardAction = accountAction{
	name: "remove",
	confirm: func(h billing.CardHolder, card billing.PaymentMethod) (confirmPage, error) {
		name := cardName(&card)
		p := confirmPage{Title: "Remove " + name + "?", Button: "Remove " + name, Danger: true,
			Question: name + " will be removed from this store and from our payment provider, Stripe. It can no longer be charged."}
		if card.ID != h.Customer.DefaultPaymentMethodID {
			return p, nil
		}
		choice := &confirmChoice{Legend: "It is the card we charge. Which card should we charge instead?", Name: "new_default"}
		for _, pm := range h.Active() {
			if pm.ID != card.ID {
				choice.Options = append(choice.Options, choiceOption{Value: pm.ID, Label: cardName(&pm) + expiresWords(pm), Checked: len(choice.Options) == 0})
			}
		}
		if len(choice.Options) == 0 {
			p.Note = "It is the card we charge, and your only one: after removing it you will have no card saved for payments."
			return p, nil
		}
		choice.Options = append(choice.Options, choiceOption{Value: noDefault, Label: "None for now"})
		p.Choice = choice
		return p, nil
	},
	run: func(s *Server, r *http.Request, h billing.CardHolder, card billing.PaymentMethod) (flash, error) {
		message := cardName(&card) + " was removed. It can no longer be charged."
		next := r.PostFormValue("new_default")
		if next == noDefault || card.ID != h.Customer.DefaultPaymentMethodID {
			next = ""
		}
		if next != "" {
			pm, ok := h.Card(next)
			if !ok || pm.Status != billing.PaymentMethodActive || pm.ID == card.ID {
				return flash{}, billing.Invalid("new_default", "Choose another of your saved cards to charge instead.")
			}
			message += " " + cardName(&pm) + " is now the card we charge."
		}
		if err := s.svc.RemoveCard(r.Context(), h.Customer.ID, card.ID, next); err != nil {
			return flash{}, err
		}
		return said(message), nil
	},
}

var defaultCardAction = accountAction{
	name: "default",
	confirm: func(h billing.CardHolder, card billing.PaymentMethod) (confirmPage, error) {
		name := cardName(&card)
		if card.ID == h.Customer.DefaultPaymentMethodID {
			return confirmPage{}, billing.Invalid("payment_method", "%s is already the card we charge.", name)
		}
		q := "We will charge " + name + " for your future payments"
		if old, ok := h.Default(); ok {
			q += " instead of " + cardName(&old)
		}
		return confirmPage{Title: "Charge " + name + " from now on?", Button: "Make " + name + " my default card",
			Question: q + ". Nothing is charged now."}, nil
	},
	run: func(s *Server, r *http.Request, h billing.CardHolder, card billing.PaymentMethod) (flash, error) {
		if err := s.svc.SetDefault(r.Context(), h.Customer.ID, card.ID); err != nil {
			return flash{}, err
		}
		return said(cardName(&card) + " is now the card we charge."), nil
	},
}

// accountAdd sends the customer to a setup-mode Checkout Session to save
// another card; Checkout's page is where they confirm it, and they come back
// to the cards page, which says what was saved.
func (s *Server) accountAdd(w http.ResponseWriter, r *http.Request) error {
	h, ok, err := s.cardHolder(w, r)
	if !ok {
		return err
	}
	url, err := s.svc.AddCard(r.Context(), h, r.PostFormValue("make_default") != "", manageURL(chi.URLParam(r, "token")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

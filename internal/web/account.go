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
	Notice  string
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

func newAccountCard(pm billing.PaymentMethod, defaultID string) accountCard {
	return accountCard{ID: pm.ID, Name: cardName(&pm), Expires: expiry(pm), Default: pm.ID == defaultID}
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
// Back from Checkout (?session_id=), it records the card saved there first.
func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	notice, err := s.returnFromCheckout(r)
	if err != nil {
		return err
	}
	h, ok, err := s.cardHolder(w, r)
	if !ok {
		return err
	}
	q := r.URL.Query()
	if card, found := h.Card(q.Get("card")); found && notice == "" {
		notice = accountNotices(q.Get("done"), cardName(&card))
	}
	return s.renderAccount(w, r, http.StatusOK, h, notice, "")
}

// returnFromCheckout records the card of a setup session Checkout came back
// from, as /success does, and says what became of it. Any session of this
// store may be named, as on /success: it is recorded, never shown.
func (s *Server) returnFromCheckout(r *http.Request) (string, error) {
	q := r.URL.Query()
	if q.Get("canceled") != "" {
		return "No card was added.", nil
	}
	id := q.Get("session_id")
	if id == "" {
		return "", nil
	}
	result, err := s.svc.FinalizeSetup(r.Context(), id)
	switch {
	case errors.Is(err, billing.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case result.Pending:
		return "Your card is being confirmed by your bank; it will appear here in a moment.", nil
	case result.MadeDefault:
		return cardName(&result.PaymentMethod) + " is saved, and is now the card we charge.", nil
	}
	return cardName(&result.PaymentMethod) + " is saved.", nil
}

// accountNotices are what the cards page says after an action.
func accountNotices(done, card string) string {
	switch done {
	case "removed":
		return card + " was removed. It can no longer be charged."
	case "default":
		return card + " is now the card we charge."
	}
	return ""
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, h billing.CardHolder, notice, message string) error {
	p := accountPage{Token: chi.URLParam(r, "token"), Email: h.Customer.Email, Expires: when(h.LinkExpires),
		Default: h.Customer.DefaultPaymentMethodID, Notice: notice, Error: message}
	for _, pm := range h.Active() {
		p.Cards = append(p.Cards, newAccountCard(pm, h.Customer.DefaultPaymentMethodID))
	}
	_, hasDefault := h.Default()
	p.NoDefault = !hasDefault
	return s.render(w, r, status, "account", p)
}

// accountConfirmPage asks the customer to confirm a card action, saying
// exactly what it does.
type accountConfirmPage struct {
	Token    string
	Title    string
	Question string
	Detail   string
	Action   string
	Button   string
	Danger   bool
	Card     string
	// Choices are the cards that may become the default instead of the one removed.
	Choices []accountCard
}

// accountAction is a card action on the manage page: a post without
// confirm=yes shows what it would do; with it, the action runs as the
// customer (audit-logged) and the page says what was done.
type accountAction struct {
	// name is the route's last segment; done, the word the page is told afterwards.
	name, done string
	confirm    func(h billing.CardHolder, card billing.PaymentMethod) (accountConfirmPage, error)
	run        func(s *Server, r *http.Request, h billing.CardHolder, card billing.PaymentMethod) error
}

func (s *Server) accountAction(a accountAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h, ok, err := s.cardHolder(w, r)
		if !ok {
			return err
		}
		card, found := h.Card(r.PostFormValue("payment_method"))
		if !found || card.Status != billing.PaymentMethodActive {
			return s.renderAccount(w, r, http.StatusBadRequest, h, "", "Choose one of your saved cards.")
		}
		if r.PostFormValue("confirm") != "yes" {
			p, err := a.confirm(h, card)
			if err != nil {
				return s.accountError(w, r, h, err)
			}
			p.Token, p.Action, p.Card = chi.URLParam(r, "token"), a.name, card.ID
			return s.render(w, r, http.StatusOK, "account_confirm", p)
		}
		if err := a.run(s, r, h, card); err != nil {
			return s.accountError(w, r, h, err)
		}
		http.Redirect(w, r, manageURL(chi.URLParam(r, "token"), "done", a.done, "card", card.ID), http.StatusSeeOther)
		return nil
	}
}

// manageURL is the cards page of a manage link's token, with query pairs.
func manageURL(token string, pairs ...string) string {
	return pageURL(billing.ManageLinkPath+url.PathEscape(token), pairs...)
}

// accountError shows the cards page again with a refusal; other errors are error pages.
func (s *Server) accountError(w http.ResponseWriter, r *http.Request, h billing.CardHolder, err error) error {
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.renderAccount(w, r, http.StatusBadRequest, h, "", invalid.Message)
	}
	return err
}

// asCustomer is the request's context with the link's customer as the
// actor, for the audit log.
func (s *Server) asCustomer(r *http.Request, h billing.CardHolder) *http.Request {
	return r.WithContext(staff.WithActor(r.Context(), staff.CustomerActor(h.Customer.Email, s.clientAddr(r))))
}

var removeCardAction = accountAction{
	name: "remove", done: "removed",
	confirm: func(h billing.CardHolder, card billing.PaymentMethod) (accountConfirmPage, error) {
		name := cardName(&card)
		p := accountConfirmPage{Title: "Remove " + name + "?", Button: "Remove " + name, Danger: true,
			Question: name + " will be removed from this store and from our payment provider, Stripe. It can no longer be charged."}
		if card.ID != h.Customer.DefaultPaymentMethodID {
			return p, nil
		}
		for _, pm := range h.Active() {
			if pm.ID != card.ID {
				p.Choices = append(p.Choices, newAccountCard(pm, ""))
			}
		}
		if len(p.Choices) == 0 {
			p.Detail = "It is the card we charge, and your only one: after removing it you will have no card saved for payments."
		} else {
			p.Detail = "It is the card we charge."
		}
		return p, nil
	},
	run: func(s *Server, r *http.Request, h billing.CardHolder, card billing.PaymentMethod) error {
		next := r.PostFormValue("next_default")
		if next != "" {
			if pm, ok := h.Card(next); !ok || pm.Status != billing.PaymentMethodActive {
				return billing.Invalid("next_default", "Choose one of your saved cards to charge instead.")
			}
		}
		return s.svc.RemoveCard(s.asCustomer(r, h).Context(), h, card.ID, next)
	},
}

var defaultCardAction = accountAction{
	name: "default", done: "default",
	confirm: func(h billing.CardHolder, card billing.PaymentMethod) (accountConfirmPage, error) {
		name := cardName(&card)
		if card.ID == h.Customer.DefaultPaymentMethodID {
			return accountConfirmPage{}, billing.Invalid("payment_method", "%s is already the card we charge.", name)
		}
		q := "We will charge " + name + " for your future payments"
		if old, ok := h.Default(); ok {
			q += " instead of " + cardName(&old)
		}
		return accountConfirmPage{Title: "Charge " + name + " from now on?", Button: "Make " + name + " my default card",
			Question: q + ". Nothing is charged now."}, nil
	},
	run: func(s *Server, r *http.Request, h billing.CardHolder, card billing.PaymentMethod) error {
		return s.svc.SetDefault(s.asCustomer(r, h).Context(), h.Customer.ID, card.ID)
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
	token := chi.URLParam(r, "token")
	url, err := s.svc.AddCard(r.Context(), h, r.PostFormValue("make_default") != "", billing.ManageLinkPath+token)
	if err != nil {
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

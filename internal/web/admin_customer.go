package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
)

type customerPage struct {
	billing.CustomerDetail
	// Currency is the store's default, chosen in every charge form but a refused one.
	Currency string
	// ChargeKey makes this rendering's charge forms one attempt each, so a double submit charges once.
	ChargeKey string
	Form      chargeForm
	Error     string
}

type chargeForm struct {
	PaymentMethod, Amount, Currency string
	// Field is the input a refusal is about.
	Field string
}

// idParam is the route's numeric {id}; anything else is a page not found.
func idParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, billing.ErrNotFound
	}
	return id, nil
}

func customerPath(id int64) string { return "/admin/customers/" + strconv.FormatInt(id, 10) }

func (s *Server) adminCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	return s.renderCustomer(w, r, http.StatusOK, id, chargeForm{}, "")
}

// renderCustomer shows the customer page, with a charge form's input and
// message when it is shown again after a mistake.
func (s *Server) renderCustomer(w http.ResponseWriter, r *http.Request, status int, id int64, form chargeForm, message string) error {
	detail, err := s.svc.CustomerDetail(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, status, "admin_customer", customerPage{
		CustomerDetail: detail,
		Currency:       s.svc.Currency(),
		ChargeKey:      billing.NewIdempotencyKey(),
		Form:           form,
		Error:          message,
	})
}

// cardAction is a card action of the customer page: its confirmation, and
// the action, which says what it did.
type cardAction struct {
	name    string
	confirm func(d billing.CustomerDetail, card billing.PaymentMethod) (confirmPage, error)
	run     func(r *http.Request, d billing.CustomerDetail, card billing.PaymentMethod) (flash, error)
}

// customerAction runs a card action from the customer page once confirmed,
// then returns to it; a refusal shows the page again with its message.
func (s *Server) customerAction(a cardAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := idParam(r)
		if err != nil {
			return err
		}
		d, err := s.svc.CustomerDetail(r.Context(), id)
		if err != nil {
			return err
		}
		card, err := customerCard(d, r.PostFormValue("payment_method"))
		if err == nil && !confirmed(r) {
			var p confirmPage
			if p, err = a.confirm(d, card); err == nil {
				p.Action, p.Back, p.BackLabel = customerPath(id)+"/"+a.name, customerPath(id), "Back to the customer"
				if p.Fields == nil {
					p.Fields = map[string]string{}
				}
				p.Fields["payment_method"] = card.ID
				return s.askToConfirm(w, r, p)
			}
		}
		var message flash
		if err == nil {
			message, err = a.run(r, d, card)
		}
		var invalid *billing.InvalidError
		if errors.As(err, &invalid) {
			return s.renderCustomer(w, r, http.StatusBadRequest, id, chargeForm{}, invalid.Message)
		}
		if err != nil {
			return err
		}
		return s.done(w, r, customerPath(id), message)
	}
}

// customerCard finds one of the customer's cards by its id.
func customerCard(d billing.CustomerDetail, pmID string) (billing.PaymentMethod, error) {
	for _, pm := range d.PaymentMethods {
		if pm.ID == pmID {
			return pm, nil
		}
	}
	return billing.PaymentMethod{}, billing.Invalid("payment_method", "That card is not this customer's.")
}

func (s *Server) cardActions() (setDefault, detach handlerFunc) {
	return s.customerAction(cardAction{name: "default", confirm: confirmDefault, run: s.setDefault}),
		s.customerAction(cardAction{name: "detach", confirm: confirmDetach, run: s.detach})
}

func confirmDefault(d billing.CustomerDetail, card billing.PaymentMethod) (confirmPage, error) {
	if card.Status != billing.PaymentMethodActive {
		return confirmPage{}, billing.Invalid("payment_method", "A detached card cannot be the default.")
	}
	name := cardName(&card)
	q := "Make " + name + " the default card of " + customerName(d.Customer.Email) + "?"
	if old, ok := defaultCard(d); ok && old.ID != card.ID {
		q = "Make " + name + " the default card of " + customerName(d.Customer.Email) + ", instead of " + cardName(&old) + "?"
	}
	return confirmPage{Title: "Change the default card", Question: q, Button: "Make " + name + " the default",
		Note: "The default card is the one charged for orders and offered first to the customer."}, nil
}

func (s *Server) setDefault(r *http.Request, d billing.CustomerDetail, card billing.PaymentMethod) (flash, error) {
	if err := s.svc.SetDefault(r.Context(), d.Customer.ID, card.ID); err != nil {
		return flash{}, err
	}
	return said(cardName(&card) + " is now the default card."), nil
}

// defaultCard is the customer's default card, if it is on file.
func defaultCard(d billing.CustomerDetail) (billing.PaymentMethod, bool) {
	for _, pm := range d.PaymentMethods {
		if pm.ID == d.Customer.DefaultPaymentMethodID && pm.ID != "" {
			return pm, true
		}
	}
	return billing.PaymentMethod{}, false
}

// noDefault is the choice, when detaching the default card, to leave the customer without one.
const noDefault = "none"

func confirmDetach(d billing.CustomerDetail, card billing.PaymentMethod) (confirmPage, error) {
	name := cardName(&card)
	p := confirmPage{Title: "Detach " + name, Button: "Detach " + name, Danger: true,
		Question: "Detach " + name + " from " + customerName(d.Customer.Email) + "?",
		Note:     "The card is removed from the customer on Stripe and cannot be charged again; to use it again the customer saves it anew."}
	if card.Status != billing.PaymentMethodActive {
		return confirmPage{}, billing.Invalid("payment_method", "%s is already detached.", name)
	}
	if card.ID != d.Customer.DefaultPaymentMethodID {
		return p, nil
	}
	choice := &confirmChoice{Legend: "It is the default card. Which card becomes the default?", Name: "new_default"}
	for _, pm := range d.PaymentMethods {
		if pm.ID != card.ID && pm.Status == billing.PaymentMethodActive {
			choice.Options = append(choice.Options, choiceOption{Value: pm.ID, Label: cardName(&pm) + expiresWords(pm), Checked: len(choice.Options) == 0})
		}
	}
	if len(choice.Options) == 0 {
		p.Question += " It is the default card and the customer has no other, so there will be no default card."
		return p, nil
	}
	choice.Options = append(choice.Options, choiceOption{Value: noDefault, Label: "None: leave the customer without a default card"})
	p.Choice = choice
	return p, nil
}

func expiresWords(pm billing.PaymentMethod) string {
	if e := expiry(pm); e != "" {
		return ", expires " + e
	}
	return ""
}

// detach detaches a card; detaching the default card first makes the card
// chosen on the confirmation the default, so the customer is never left
// without one by accident.
func (s *Server) detach(r *http.Request, d billing.CustomerDetail, card billing.PaymentMethod) (flash, error) {
	message := cardName(&card) + " is detached."
	next := r.PostFormValue("new_default")
	if next == noDefault || card.ID != d.Customer.DefaultPaymentMethodID {
		next = ""
	}
	if next != "" {
		replacement, err := customerCard(d, next)
		if err != nil || replacement.ID == card.ID {
			return flash{}, billing.Invalid("new_default", "Choose another of the customer's cards as the default.")
		}
		message += " " + cardName(&replacement) + " is now the default card."
	} else if card.ID == d.Customer.DefaultPaymentMethodID {
		message += " The customer has no default card now."
	}
	if err := s.svc.RemoveCard(r.Context(), d.Customer.ID, card.ID, next); err != nil {
		return flash{}, err
	}
	return said(message), nil
}

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
	Currency string
	// ChargeKey makes this rendering's charge forms one attempt each, so a double submit charges once.
	ChargeKey string
	Form      chargeForm
	Error     string
}

type chargeForm struct {
	PaymentMethod, Amount, Currency string
}

// idParam is the route's numeric {id}; anything else is a page not found.
func idParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, billing.ErrNotFound
	}
	return id, nil
}

func (s *Server) adminCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	return s.renderCustomer(w, r, http.StatusOK, id, chargeForm{Currency: s.svc.Currency()}, "")
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

// customerAction runs a card action from the customer page, then returns to it.
func (s *Server) customerAction(action func(r *http.Request, customerID int64, pmID string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := idParam(r)
		if err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			return billing.Invalid("form", "The form could not be read.")
		}
		err = action(r, id, r.PostFormValue("payment_method"))
		var invalid *billing.InvalidError
		if errors.As(err, &invalid) {
			return s.renderCustomer(w, r, http.StatusBadRequest, id, chargeForm{Currency: s.svc.Currency()}, invalid.Message)
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/admin/customers/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return nil
	}
}

func (s *Server) adminSetDefault(r *http.Request, customerID int64, pmID string) error {
	return s.svc.SetDefault(r.Context(), customerID, pmID)
}

func (s *Server) adminDetach(r *http.Request, customerID int64, pmID string) error {
	return s.svc.Detach(r.Context(), customerID, pmID)
}

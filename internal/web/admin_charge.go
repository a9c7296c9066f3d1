package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
)

// adminCharge charges a saved card off-session, then shows the outcome on
// its own page (303), so a reload never posts the charge again.
func (s *Server) adminCharge(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return billing.Invalid("form", "The form could not be read.")
	}
	form := chargeForm{
		PaymentMethod: r.PostFormValue("payment_method"),
		Amount:        r.PostFormValue("amount"),
		Currency:      r.PostFormValue("currency"),
	}
	attempt, err := s.svc.Charge(r.Context(), billing.ChargeRequest{
		PaymentMethodID: form.PaymentMethod,
		Amount:          form.Amount,
		Currency:        form.Currency,
		IdempotencyKey:  r.PostFormValue("key"),
	})
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.chargeFormAgain(w, r, form, invalid.Message)
	}
	if err != nil && attempt.ID == 0 {
		return err
	}
	// With an attempt but an error, the outcome is unknown: the attempt page says so and offers a retry.
	http.Redirect(w, r, "/admin/charges/"+strconv.FormatInt(attempt.ID, 10), http.StatusSeeOther)
	return nil
}

// chargeFormAgain shows the customer page of the card with the form's input and message.
func (s *Server) chargeFormAgain(w http.ResponseWriter, r *http.Request, form chargeForm, message string) error {
	customerID, err := s.svc.CustomerOfPaymentMethod(r.Context(), form.PaymentMethod)
	if err != nil {
		// No card to go back to: a plain error page says what was wrong.
		return billing.Invalid("payment_method", "%s", message)
	}
	return s.renderCustomer(w, r, http.StatusBadRequest, customerID, form, message)
}

type chargePage struct {
	Attempt      billing.ChargeAttempt
	RecoveryLink string
	// Refunds are payments that arrived after the attempt was paid.
	Refunds []billing.RecoveryRefund
}

func (s *Server) adminChargeOutcome(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	attempt, err := s.svc.ChargeAttempt(r.Context(), id)
	if err != nil {
		return err
	}
	p := chargePage{Attempt: attempt}
	if attempt.DuplicatePayments > 0 {
		if p.Refunds, err = s.svc.RecoveryRefunds(r.Context(), attempt.ID); err != nil {
			return err
		}
	}
	if attempt.Recoverable() {
		p.RecoveryLink = s.svc.RecoveryLink(attempt.ID)
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_charge", p)
}

// adminChargeRetry sends an attempt whose outcome is unknown again, with its key.
func (s *Server) adminChargeRetry(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if _, err := s.svc.RetryCharge(r.Context(), id); err != nil {
		return err
	}
	if err := s.shop.SettleAttempt(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/charges/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

// adminReplay applies an event again and returns to where the button was.
func (s *Server) adminReplay(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if !billing.ValidEventID(id) {
		return billing.ErrNotFound
	}
	if _, err := s.svc.ReplayEvent(r.Context(), id); err != nil {
		return err
	}
	back := "/admin"
	if c := r.PostFormValue("customer"); c != "" {
		if n, err := strconv.ParseInt(c, 10, 64); err == nil {
			back = "/admin/customers/" + strconv.FormatInt(n, 10)
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

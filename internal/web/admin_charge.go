package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
)

// adminCharge charges a saved card off-session once confirmed, then shows
// the outcome on its own page (303), so a reload never posts the charge again.
func (s *Server) adminCharge(w http.ResponseWriter, r *http.Request) error {
	form := chargeForm{
		PaymentMethod: r.PostFormValue("payment_method"),
		Amount:        r.PostFormValue("amount"),
		Currency:      r.PostFormValue("currency"),
	}
	req := billing.ChargeRequest{PaymentMethodID: form.PaymentMethod, Amount: form.Amount, Currency: form.Currency,
		IdempotencyKey: r.PostFormValue("key")}
	var invalid *billing.InvalidError
	if !confirmed(r) {
		plan, err := s.svc.PrepareCharge(r.Context(), req)
		if errors.As(err, &invalid) {
			return s.chargeFormAgain(w, r, form, invalid)
		}
		if err != nil {
			return err
		}
		return s.askToConfirm(w, r, chargeConfirmation(plan))
	}
	attempt, err := s.svc.Charge(r.Context(), req)
	if errors.As(err, &invalid) {
		return s.chargeFormAgain(w, r, form, invalid)
	}
	if err != nil && attempt.ID == 0 {
		return err
	}
	// With an attempt but an error, the outcome is unknown: the attempt page says so and offers a retry.
	return s.done(w, r, chargePath(attempt.ID), chargeOutcome(attempt))
}

func chargePath(id int64) string { return "/admin/charges/" + strconv.FormatInt(id, 10) }

func chargeConfirmation(plan billing.ChargePlan) confirmPage {
	card := cardName(&plan.Card.PaymentMethod)
	return confirmPage{
		Title:    "Charge " + card,
		Question: "Charge " + plan.Money.Display() + " to " + card + ", " + customerName(plan.Card.CustomerEmail) + "?",
		Note:     "The card is charged now, without the customer present. If the bank declines, the customer is told how to pay.",
		Action:   "/admin/charges",
		Button:   "Charge " + plan.Money.Display(),
		Back:     customerPath(plan.Card.CustomerID), BackLabel: "Back to the customer",
		Fields: map[string]string{"payment_method": plan.Card.ID, "amount": plan.Money.Decimal(),
			"currency": plan.Money.Currency, "key": plan.Key},
	}
}

// chargeOutcome says what a charge came to, for the page that shows it.
func chargeOutcome(a billing.ChargeAttempt) flash {
	what := a.Money.Display() + " to " + attemptCard(a)
	switch {
	case a.Status == billing.ChargeSucceeded:
		return said("Charged " + what + ".")
	case a.Status == billing.ChargeFailed:
		return warning("Stripe refused the charge of " + what + "; nothing was charged.")
	case a.Failed():
		return warning("The charge of " + what + " did not go through: " + a.FailureReason() + ".")
	case a.Status == billing.ChargeProcessing:
		return warning("The charge of " + what + " was sent; Stripe's answer has not arrived yet.")
	}
	return said("The charge of " + what + " is " + label(a.Status) + ".")
}

// customerName names a customer in a sentence: the email, or "a customer
// with no email".
func customerName(email string) string {
	if email == "" {
		return "a customer with no email"
	}
	return email
}

// chargeFormAgain shows the customer page of the card with the form's input and message.
func (s *Server) chargeFormAgain(w http.ResponseWriter, r *http.Request, form chargeForm, invalid *billing.InvalidError) error {
	customerID, err := s.svc.CustomerOfPaymentMethod(r.Context(), form.PaymentMethod)
	if err != nil {
		// No card to go back to: a plain error page says what was wrong.
		return billing.Invalid("payment_method", "%s", invalid.Message)
	}
	form.Field = invalid.Field
	return s.renderCustomer(w, r, http.StatusBadRequest, customerID, form, invalid.Message)
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

// adminChargeRetry sends an attempt whose outcome is unknown again, with its key, once confirmed.
func (s *Server) adminChargeRetry(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	attempt, err := s.svc.ChargeAttempt(r.Context(), id)
	if err != nil {
		return err
	}
	if !confirmed(r) {
		if attempt.Status != billing.ChargeProcessing {
			return billing.Invalid("attempt", "This charge is %s: there is nothing to send again.", label(attempt.Status))
		}
		return s.askToConfirm(w, r, confirmPage{
			Title:    "Send the charge again",
			Question: "Send the charge of " + attempt.Money.Display() + " to " + attemptCard(attempt) + ", " + customerName(attempt.CustomerEmail) + ", again?",
			Note:     "It carries the same idempotency key, so the card is charged at most once.",
			Action:   chargePath(id) + "/retry", Button: "Send the charge again",
			Back: chargePath(id), BackLabel: "Back to the charge",
		})
	}
	if attempt, err = s.svc.RetryCharge(r.Context(), id); err != nil {
		return err
	}
	if err := s.shop.SettleAttempt(r.Context(), id); err != nil {
		return err
	}
	return s.done(w, r, chargePath(id), chargeOutcome(attempt))
}

// adminReplay applies an event again, once confirmed, and returns to where the button was.
func (s *Server) adminReplay(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if !billing.ValidEventID(id) {
		return billing.ErrNotFound
	}
	back, backLabel := "/admin", "Back to the saved cards"
	if list, ok := eventsBack(r.PostFormValue("back")); ok {
		back, backLabel = list, "Back to the events"
	} else if c := r.PostFormValue("customer"); c != "" {
		if n, err := strconv.ParseInt(c, 10, 64); err == nil && n > 0 {
			back, backLabel = customerPath(n), "Back to the customer"
		}
	}
	if !confirmed(r) {
		p := confirmPage{Title: "Replay an event", Action: "/admin/events/" + id + "/replay", Button: "Apply it again",
			Back: back, BackLabel: backLabel, Fields: map[string]string{"customer": r.PostFormValue("customer"), "back": r.PostFormValue("back")},
			Note: "Replaying is safe: an event never makes newer state older, and what it already did is not done twice."}
		stored, err := s.svc.StoredEvent(r.Context(), id)
		switch {
		case errors.Is(err, billing.ErrNotFound):
			p.Question = "Fetch event " + id + " from Stripe and apply it?"
		case err != nil:
			return err
		default:
			p.Question = "Apply the " + stored.Type + " event " + id + " again?"
		}
		return s.askToConfirm(w, r, p)
	}
	e, err := s.svc.ReplayEvent(r.Context(), id)
	if err != nil {
		return err
	}
	return s.done(w, r, back, said("The "+e.Type+" event "+id+" was applied again."))
}

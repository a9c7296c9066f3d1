package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
)

type payPage struct {
	Title, Message string
	Attempt        billing.ChargeAttempt
}

// pay follows a recovery link to a payment-mode Checkout Session for the
// failed amount. A link that cannot be paid gets a page saying why.
func (s *Server) pay(w http.ResponseWriter, r *http.Request) error {
	url, err := s.svc.StartRecovery(r.Context(), chi.URLParam(r, "token"))
	switch {
	case errors.Is(err, billing.ErrLinkExpired):
		return s.render(w, r, http.StatusGone, "pay", payPage{Title: "This payment link has expired",
			Message: "Payment links work for a limited time. Please contact the store for a new one; nothing was charged."})
	case errors.Is(err, billing.ErrAlreadyPaid):
		return s.render(w, r, http.StatusConflict, "pay", payPage{Title: "Already paid",
			Message: "This payment has already been made. Thank you; there is nothing more to do."})
	case errors.Is(err, billing.ErrPaymentProcessing):
		return s.render(w, r, http.StatusConflict, "pay", payPage{Title: "Payment being processed",
			Message: "Your payment has been received and is being confirmed by your bank. There is nothing more to do."})
	case errors.Is(err, billing.ErrNoLongerDue):
		return s.render(w, r, http.StatusGone, "pay", payPage{Title: "This payment is no longer due",
			Message: "The store has canceled what this payment was for, so there is nothing to pay. Nothing was charged."})
	case errors.Is(err, billing.ErrLinkInvalid):
		return s.render(w, r, http.StatusNotFound, "pay", payPage{Title: "This payment link is not valid",
			Message: "Check that the whole link was copied from the email. Nothing was charged."})
	case err != nil:
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

// payComplete is the recovery session's success_url.
func (s *Server) payComplete(w http.ResponseWriter, r *http.Request) error {
	result, err := s.svc.FinalizePayment(r.Context(), r.URL.Query().Get("session_id"))
	if err == nil && result.Attempt.ID != 0 {
		// An order's charge paid here makes the order paid, now rather than at the webhook.
		err = s.shop.SettleAttempt(r.Context(), result.Attempt.ID)
	}
	if err != nil {
		return err
	}
	if result.Pending {
		return s.render(w, r, http.StatusOK, "processing", processingPage{Status: billing.SessionOpen})
	}
	if d := result.Duplicate; d != nil {
		message := "This payment of " + d.Money.String() + " arrived after the charge had already been paid, so it has been refunded in full to your card. Nothing more is owed."
		if d.Status != billing.RefundRefunded {
			message = "This payment of " + d.Money.String() + " arrived after the charge had already been paid. It will be refunded in full to your card automatically; nothing more is owed."
		}
		return s.render(w, r, http.StatusOK, "pay", payPage{Title: "Already paid: duplicate payment refunded", Message: message, Attempt: result.Attempt})
	}
	if !result.Attempt.Paid() {
		// The session completed but its payment failed afterwards.
		return s.render(w, r, http.StatusOK, "pay", payPage{Title: "Your payment did not go through",
			Message: "Your bank did not complete this payment of " + result.Attempt.Money.String() + ", so nothing was charged. You can try again, with the same card or another one, from the link in our email.",
			Attempt: result.Attempt})
	}
	return s.render(w, r, http.StatusOK, "pay", payPage{Title: "Payment received",
		Message: "Thank you: your payment of " + result.Attempt.Money.String() + " was received. The card you used is saved for next time.",
		Attempt: result.Attempt})
}

package web

import (
	"net/http"

	"github.com/storefront/storefront/internal/billing"
)

type successPage struct {
	PaymentMethod billing.PaymentMethod
	// MadeDefault: saved from a card expiry reminder, it replaces the card charged.
	MadeDefault bool
}

type processingPage struct {
	Status string
}

// success is Checkout's success_url: it records the saved card (once) and shows it.
func (s *Server) success(w http.ResponseWriter, r *http.Request) error {
	result, err := s.svc.FinalizeSetup(r.Context(), r.URL.Query().Get("session_id"))
	if err != nil {
		return err
	}
	if result.Pending {
		return s.render(w, r, http.StatusOK, "processing", processingPage{Status: result.SessionStatus})
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "success", successPage{PaymentMethod: result.PaymentMethod, MadeDefault: result.MadeDefault})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "cancel", nil)
}

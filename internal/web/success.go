package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

type successPage struct {
	PaymentMethod billing.PaymentMethod
	// MadeDefault: saved from a card expiry reminder, it replaces the card charged.
	MadeDefault bool
}

type processingPage struct {
	Status string
}

// orderPage is an order as its customer sees it: on the success page
// right after checkout, and behind the link in the emails.
type orderPage struct {
	Order shop.Order
	// Placed is set on the success page, which says the order is placed.
	Placed bool
	Link   string
}

// success is Checkout's success_url: for an order's session it records the
// card and places the order; otherwise it records the saved card. Either
// once, and shows the result.
func (s *Server) success(w http.ResponseWriter, r *http.Request) error {
	sessionID := r.URL.Query().Get("session_id")
	order, isOrder, err := s.shop.FinishCheckout(r.Context(), sessionID)
	if err != nil {
		return err
	}
	if isOrder {
		if order.Pending {
			return s.render(w, r, http.StatusOK, "processing", processingPage{Status: order.SessionStatus})
		}
		w.Header().Set("Cache-Control", "no-store")
		return s.render(w, r, http.StatusOK, "order", orderPage{Order: order.Order, Placed: true, Link: s.shop.OrderLink(order.Order.ID)})
	}
	result, err := s.svc.FinalizeSetup(r.Context(), sessionID)
	if err != nil {
		return err
	}
	if result.Pending {
		return s.render(w, r, http.StatusOK, "processing", processingPage{Status: result.SessionStatus})
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "success", successPage{PaymentMethod: result.PaymentMethod, MadeDefault: result.MadeDefault})
}

// customerOrder is the page the order emails link to.
func (s *Server) customerOrder(w http.ResponseWriter, r *http.Request) error {
	order, err := s.shop.OrderByToken(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	return s.render(w, r, http.StatusOK, "order", orderPage{Order: order})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "cancel", nil)
}

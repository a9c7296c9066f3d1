package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/storefront/storefront/internal/billing"
)

// card follows the link of a card expiry reminder to a setup-mode Checkout
// Session for the customer; the card saved there, recorded by /success or
// the webhook, becomes their default. A link that cannot be used gets a
// page saying why.
func (s *Server) card(w http.ResponseWriter, r *http.Request) error {
	url, err := s.svc.StartCardUpdate(r.Context(), chi.URLParam(r, "token"))
	switch {
	case errors.Is(err, billing.ErrLinkExpired):
		return s.render(w, r, http.StatusGone, "pay", payPage{Title: "This link has expired",
			Message: fmt.Sprintf("Links to save a new card work for %d days. Please contact the store for a new one; your saved card is unchanged.", int(billing.CardLinkTTL.Hours()/24))})
	case errors.Is(err, billing.ErrLinkInvalid):
		return s.render(w, r, http.StatusNotFound, "pay", payPage{Title: "This link is not valid",
			Message: "Check that the whole link was copied from the email. Your saved card is unchanged."})
	case err != nil:
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

package web

import (
	"errors"
	"net/http"

	"github.com/storefront/storefront/internal/billing"
)

type storefrontPage struct {
	Email string
	Error string
}

func (s *Server) storefront(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "storefront", storefrontPage{})
}

// createCheckoutSession starts the save-card flow: 303 to Stripe's hosted page.
func (s *Server) createCheckoutSession(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return billing.Invalid("form", "The form could not be read; please try again.")
	}
	email := r.PostFormValue("email")
	url, err := s.svc.StartSetup(r.Context(), email)
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.render(w, r, http.StatusBadRequest, "storefront", storefrontPage{Email: email, Error: invalid.Message})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

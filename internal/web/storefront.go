package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

type storefrontPage struct {
	Products []shop.Product
	Cart     shop.Cart
	Email    string
	Error    string
	// ProductError is a refused Add to cart, shown beside its product.
	ProductError   string
	ErrorProductID int64
}

// storefront lists what is for sale, and keeps the plain Save card form.
func (s *Server) storefront(w http.ResponseWriter, r *http.Request) error {
	return s.renderStorefront(w, r, http.StatusOK, storefrontPage{})
}

func (s *Server) renderStorefront(w http.ResponseWriter, r *http.Request, status int, p storefrontPage) error {
	var err error
	if p.Products, err = s.shop.Products(r.Context(), true); err != nil {
		return err
	}
	if !slices.ContainsFunc(p.Products, func(pr shop.Product) bool { return pr.ID == p.ErrorProductID }) {
		p.ErrorProductID = 0 // not on the page: the message goes above the list
	}
	if p.Cart, err = s.shop.Cart(r.Context(), cartToken(r)); err != nil {
		return err
	}
	return s.render(w, r, status, "storefront", p)
}

// createCheckoutSession starts the save-card flow: 303 to Stripe's hosted page.
func (s *Server) createCheckoutSession(w http.ResponseWriter, r *http.Request) error {
	email := r.PostFormValue("email")
	url, err := s.svc.StartSetup(r.Context(), email)
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.renderStorefront(w, r, http.StatusBadRequest, storefrontPage{Email: email, Error: invalid.Message})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

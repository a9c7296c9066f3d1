package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// cartCookie holds the token of the visitor's cart.
const (
	cartCookie    = "storefront_cart"
	cartCookieAge = 30 * 24 * time.Hour
)

func cartToken(r *http.Request) string {
	if c, err := r.Cookie(cartCookie); err == nil {
		return c.Value
	}
	return ""
}

func (s *Server) setCartCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: cartCookie, Value: token, Path: "/", MaxAge: int(cartCookieAge.Seconds()),
		HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode})
}

type cartPage struct {
	Cart        shop.Cart
	CheckoutKey string
	Email       string
	Error       string
	// ErrorProductID is the line a refused change was about.
	ErrorProductID int64
}

// cartAdd is Add to cart: a product and a quantity, added to what the cart has.
func (s *Server) cartAdd(w http.ResponseWriter, r *http.Request) error {
	token := cartToken(r)
	_, newToken, err := s.shop.AddToCart(r.Context(), token, r.PostFormValue("product"), r.PostFormValue("quantity"))
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		id, _ := strconv.ParseInt(r.PostFormValue("product"), 10, 64)
		return s.renderStorefront(w, r, http.StatusBadRequest, storefrontPage{ProductError: invalid.Message, ErrorProductID: id})
	}
	if err != nil {
		return err
	}
	if newToken != token {
		s.setCartCookie(w, newToken)
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
	return nil
}

func (s *Server) cart(w http.ResponseWriter, r *http.Request) error {
	return s.renderCart(w, r, http.StatusOK, cartPage{})
}

func (s *Server) renderCart(w http.ResponseWriter, r *http.Request, status int, p cartPage) error {
	var err error
	if p.Cart, err = s.shop.Cart(r.Context(), cartToken(r)); err != nil {
		return err
	}
	p.CheckoutKey = shop.NewCheckoutKey()
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, status, "cart", p)
}

// cartChange runs a change of one cart line, then shows the cart again.
func (s *Server) cartChange(change func(r *http.Request, token string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := change(r, cartToken(r))
		var invalid *billing.InvalidError
		if errors.As(err, &invalid) {
			id, _ := strconv.ParseInt(r.PostFormValue("product"), 10, 64)
			return s.renderCart(w, r, http.StatusBadRequest, cartPage{Error: invalid.Message, ErrorProductID: id})
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return nil
	}
}

func (s *Server) cartUpdate(r *http.Request, token string) error {
	_, err := s.shop.SetCartQuantity(r.Context(), token, r.PostFormValue("product"), r.PostFormValue("quantity"))
	return err
}

func (s *Server) cartRemove(r *http.Request, token string) error {
	_, err := s.shop.RemoveFromCart(r.Context(), token, r.PostFormValue("product"))
	return err
}

// checkout places the cart as an order awaiting its card and sends the
// customer to Stripe's page to save one: 303 to the session's url.
func (s *Server) checkout(w http.ResponseWriter, r *http.Request) error {
	email := r.PostFormValue("email")
	url, err := s.shop.Checkout(r.Context(), cartToken(r), email, r.PostFormValue("key"))
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.renderCart(w, r, http.StatusBadRequest, cartPage{Email: email, Error: invalid.Message})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

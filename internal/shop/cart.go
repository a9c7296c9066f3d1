package shop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/storefront/storefront/internal/billing"
)

// MaxQuantity is the most of one product a cart or an order holds; more is
// a typo, or a wholesale order for which the shop wants to be asked.
const MaxQuantity = 99

// maxCartLines bounds how many products one cart holds.
const maxCartLines = 50

var cartTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// NewCartToken returns the token of a new cart's cookie.
func NewCartToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cartKey is what the store keeps of a cart's token: its hash, so a copy of
// the database opens nobody's cart. A malformed token is no cart.
func cartKey(token string) ([]byte, bool) {
	if !cartTokenPattern.MatchString(token) {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:], true
}

// Cart returns the cart of a cookie's token; an empty one for no token.
func (s *Service) Cart(ctx context.Context, token string) (Cart, error) {
	key, ok := cartKey(token)
	if !ok {
		return Cart{}, nil
	}
	c, err := s.store.Cart(ctx, key)
	if err != nil {
		return Cart{}, fmt.Errorf("cart: %w", err)
	}
	return c, nil
}

// CartCount returns how many items the cart of a cookie's token holds: 0,
// without asking the database, for no token or a malformed one.
func (s *Service) CartCount(ctx context.Context, token string) (int, error) {
	key, ok := cartKey(token)
	if !ok {
		return 0, nil
	}
	return s.store.CartCount(ctx, key)
}

// parseQuantity reads a quantity typed by a person: a whole number from 1 to MaxQuantity.
func parseQuantity(raw string) (int, error) {
	v := strings.TrimSpace(raw)
	switch {
	case v == "":
		return 0, billing.Invalid("quantity", "Enter a quantity.")
	case strings.HasPrefix(v, "-") && allDigits(v[1:]):
		return 0, billing.Invalid("quantity", "The quantity must be at least 1. To take a product out of the cart, remove it.")
	case !allDigits(v):
		return 0, billing.Invalid("quantity", "Enter the quantity as a whole number, like 2.")
	}
	q, err := strconv.Atoi(v)
	switch {
	case err != nil || q > MaxQuantity:
		return 0, billing.Invalid("quantity", "You can order at most %d of one product.", MaxQuantity)
	case q < 1:
		return 0, billing.Invalid("quantity", "The quantity must be at least 1. To take a product out of the cart, remove it.")
	}
	return q, nil
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// parseProductID reads a product id from a form.
func parseProductID(raw string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0, billing.Invalid("product", "Choose a product from the store.")
	}
	return id, nil
}

// AddToCart puts quantity of a product into the cart of token, adding to
// what is there. token empty makes a new cart; the token to keep is
// returned. An unknown or archived product, a quantity out of range or a
// product in another currency than the cart's is refused with nothing changed.
func (s *Service) AddToCart(ctx context.Context, token, product, quantity string) (Cart, string, error) {
	id, err := parseProductID(product)
	if err != nil {
		return Cart{}, token, err
	}
	q, err := parseQuantity(quantity)
	if err != nil {
		return Cart{}, token, err
	}
	key, ok := cartKey(token)
	if !ok {
		token = NewCartToken()
		key, _ = cartKey(token)
	}
	c, err := s.store.ChangeCart(ctx, key, id, func(c Cart, p Product) (int, error) {
		if err := sellable(p); err != nil {
			return 0, err
		}
		if cur := c.Currency(); cur != "" && cur != p.Price.Currency {
			return 0, billing.Invalid("product", "Your cart is in %s and %s is priced in %s. One order is paid in one currency: check out this cart first, then order %s.",
				strings.ToUpper(cur), p.Name, strings.ToUpper(p.Price.Currency), p.Name)
		}
		have := 0
		for _, l := range c.Lines {
			if l.Product.ID == p.ID {
				have = l.Quantity
			}
		}
		if have == 0 && len(c.Lines) >= maxCartLines {
			return 0, billing.Invalid("product", "Your cart is full: at most %d different products.", maxCartLines)
		}
		if have+q > MaxQuantity {
			return 0, billing.Invalid("quantity", "You can order at most %d of one product; your cart has %d %s already.", MaxQuantity, have, p.Name)
		}
		return have + q, nil
	})
	if err != nil {
		return Cart{}, token, s.cartError(err)
	}
	return c, token, nil
}

// SetCartQuantity changes how many of a product the cart holds.
func (s *Service) SetCartQuantity(ctx context.Context, token, product, quantity string) (Cart, error) {
	id, err := parseProductID(product)
	if err != nil {
		return Cart{}, err
	}
	q, err := parseQuantity(quantity)
	if err != nil {
		return Cart{}, err
	}
	return s.changeLine(ctx, token, id, func(Cart, Product) (int, error) { return q, nil })
}

// RemoveFromCart takes a product out of the cart.
func (s *Service) RemoveFromCart(ctx context.Context, token, product string) (Cart, error) {
	id, err := parseProductID(product)
	if err != nil {
		return Cart{}, err
	}
	return s.changeLine(ctx, token, id, func(Cart, Product) (int, error) { return 0, nil })
}

// changeLine changes a line the cart already has.
func (s *Service) changeLine(ctx context.Context, token string, id int64, quantity func(Cart, Product) (int, error)) (Cart, error) {
	key, ok := cartKey(token)
	if !ok {
		return Cart{}, billing.Invalid("cart", "Your cart is empty; it may have expired.")
	}
	c, err := s.store.ChangeCart(ctx, key, id, func(c Cart, p Product) (int, error) {
		for _, l := range c.Lines {
			if l.Product.ID == p.ID {
				return quantity(c, p)
			}
		}
		return 0, billing.Invalid("product", "%s is not in your cart.", p.Name)
	})
	if err != nil {
		return Cart{}, s.cartError(err)
	}
	return c, nil
}

// cartError says "no such product" as bad input: the form named it.
func (s *Service) cartError(err error) error {
	if errors.Is(err, billing.ErrNotFound) {
		return billing.Invalid("product", "That product is not in the store.")
	}
	return err
}

// sellable refuses a product that is no longer for sale.
func sellable(p Product) error {
	if p.Status != ProductActive {
		return billing.Invalid("product", "%s is no longer for sale.", p.Name)
	}
	return nil
}

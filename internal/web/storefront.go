package web

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

type storefrontPage struct {
	Products []shop.Product
	// CartCount is how many items the visitor's cart holds, shown in the nav.
	CartCount int
	Email     string
	Error     string
	// ProductError is a refused Add to cart, shown beside its product.
	ProductError   string
	ErrorProductID int64
}

// storefront lists what is for sale, and keeps the plain Save card form.
// The page is rendered once per catalog and cart count (see catalogPages).
func (s *Server) storefront(w http.ResponseWriter, r *http.Request) error {
	catalog, count, err := s.storefrontData(r)
	if err != nil {
		return err
	}
	body, err := s.catalogPages.get(catalog, count, func() ([]byte, error) {
		return s.execute(r, "storefront", storefrontPage{Products: catalog.Products, CartCount: count}, nil)
	})
	if err != nil {
		return err
	}
	s.write(w, r, http.StatusOK, body)
	return nil
}

// renderStorefront shows the page with a message from a refused form.
func (s *Server) renderStorefront(w http.ResponseWriter, r *http.Request, status int, p storefrontPage) error {
	catalog, count, err := s.storefrontData(r)
	if err != nil {
		return err
	}
	p.Products, p.CartCount = catalog.Products, count
	if !slices.ContainsFunc(p.Products, func(pr shop.Product) bool { return pr.ID == p.ErrorProductID }) {
		p.ErrorProductID = 0 // not on the page: the message goes above the list
	}
	return s.render(w, r, status, "storefront", p)
}

// storefrontData is what every rendering of the page shows: the products on
// sale and the number of items in the visitor's cart.
func (s *Server) storefrontData(r *http.Request) (*shop.Catalog, int, error) {
	catalog, err := s.shop.Catalog(r.Context())
	if err != nil {
		return nil, 0, err
	}
	count, err := s.shop.CartCount(r.Context(), cartToken(r))
	if err != nil {
		return nil, 0, err
	}
	return catalog, count, nil
}

// maxCachedCartCount is the largest cart count whose page is kept; a larger
// cart is rare, and its page is rendered each time.
const maxCachedCartCount = shop.MaxQuantity

// catalogPages keeps the catalog page as rendered for the current catalog,
// one per cart count. A visitor's GET / depends on nothing else: it carries
// no message or form value, and no staff member is signed in on it.
type catalogPages struct {
	current atomic.Pointer[renderedCatalog]
}

type renderedCatalog struct {
	catalog *shop.Catalog
	pages   sync.Map // cart count → []byte
}

// get returns the page of catalog and count, rendered on first use. A
// catalog replaced by a newer one (a new *shop.Catalog) drops its pages.
func (c *catalogPages) get(catalog *shop.Catalog, count int, render func() ([]byte, error)) ([]byte, error) {
	rc := c.current.Load()
	if rc == nil || rc.catalog != catalog {
		rc = &renderedCatalog{catalog: catalog}
		c.current.Store(rc)
	}
	if body, ok := rc.pages.Load(count); ok {
		return body.([]byte), nil
	}
	body, err := render()
	if err == nil && count <= maxCachedCartCount {
		rc.pages.Store(count, body)
	}
	return body, err
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

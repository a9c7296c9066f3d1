package shop

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/storefront/storefront/internal/billing"
)

// Audit actions of the catalog and of orders.
const (
	ActionProductCreate  = "product.create"
	ActionProductUpdate  = "product.update"
	ActionProductArchive = "product.archive"
	ActionProductRestore = "product.restore"
	ActionOrderCancel    = "order.cancel"
)

// ProductInput is a product as typed into the admin's form.
type ProductInput struct {
	Name, Description, Price, Currency string
}

const (
	maxProductName        = 120
	maxProductDescription = 1000
)

// parse validates the form: a name, a short description, and a price
// parsed by the currency's decimal places.
func (in ProductInput) parse() (Product, error) {
	name := strings.TrimSpace(in.Name)
	description := strings.TrimSpace(in.Description)
	switch {
	case name == "":
		return Product{}, billing.Invalid("name", "Enter the product's name.")
	case utf8.RuneCountInString(name) > maxProductName:
		return Product{}, billing.Invalid("name", "The name is too long: at most %d characters.", maxProductName)
	case hasControl(name):
		return Product{}, billing.Invalid("name", "The name contains characters that cannot be shown.")
	case utf8.RuneCountInString(description) > maxProductDescription:
		return Product{}, billing.Invalid("description", "The description is too long: at most %d characters.", maxProductDescription)
	}
	price, err := billing.ParseAmount(in.Price, in.Currency)
	if err != nil {
		return Product{}, err
	}
	return Product{Name: name, Description: description, Price: price, Status: ProductActive}, nil
}

// hasControl tells whether s holds control or format characters, which
// make a name read as another in pages, emails and Checkout.
func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) >= 0
}

// Products returns the catalog: the active products, or every one.
func (s *Service) Products(ctx context.Context, activeOnly bool) ([]Product, error) {
	list, err := s.store.Products(ctx, activeOnly)
	if err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	return list, nil
}

// Product returns one product.
func (s *Service) Product(ctx context.Context, id int64) (Product, error) {
	p, err := s.store.Product(ctx, id)
	if err != nil {
		return Product{}, fmt.Errorf("product %d: %w", id, err)
	}
	return p, nil
}

// CreateProduct adds a product to the catalog, for sale at once.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (Product, error) {
	p, err := in.parse()
	if err != nil {
		return Product{}, err
	}
	if err := s.audit(ctx, ActionProductCreate, p.Name, p.Price, ""); err != nil {
		return Product{}, err
	}
	defer s.catalogWritten()
	created, err := s.store.CreateProduct(ctx, p)
	if err != nil {
		return Product{}, fmt.Errorf("create product: %w", err)
	}
	return created, nil
}

// UpdateProduct changes a product's name, description and price. Orders
// already made keep what they were sold at.
func (s *Service) UpdateProduct(ctx context.Context, id int64, in ProductInput) (Product, error) {
	p, err := in.parse()
	if err != nil {
		return Product{}, err
	}
	p.ID = id
	if err := s.audit(ctx, ActionProductUpdate, fmt.Sprintf("product %d", id), p.Price, p.Name); err != nil {
		return Product{}, err
	}
	defer s.catalogWritten()
	updated, err := s.store.UpdateProduct(ctx, p)
	if err != nil {
		return Product{}, fmt.Errorf("update product %d: %w", id, err)
	}
	return updated, nil
}

// SetProductStatus archives a product (it leaves the store and carts
// cannot check it out) or puts it back on sale.
func (s *Service) SetProductStatus(ctx context.Context, id int64, status ProductStatus) (Product, error) {
	action := ActionProductArchive
	if status == ProductActive {
		action = ActionProductRestore
	}
	if err := s.audit(ctx, action, fmt.Sprintf("product %d", id), billing.Money{}, ""); err != nil {
		return Product{}, err
	}
	defer s.catalogWritten()
	p, err := s.store.SetProductStatus(ctx, id, status)
	if err != nil {
		return Product{}, fmt.Errorf("%s %d: %w", action, id, err)
	}
	return p, nil
}

// DemoCatalog is what local mode sells when its catalog is empty: the
// T-shirt of Stripe's own example, and two more.
func DemoCatalog() []Product {
	return []Product{
		{Name: "T-shirt", Description: "Organic cotton, printed to order. Ships in a week.", Price: billing.Money{Amount: 1099, Currency: "usd"}},
		{Name: "Mug", Description: "Stoneware, 350 ml, glazed by hand.", Price: billing.Money{Amount: 1450, Currency: "usd"}},
		{Name: "Sticker pack", Description: "Five vinyl stickers.", Price: billing.Money{Amount: 400, Currency: "usd"}},
	}
}

// SeedDemoCatalog fills an empty catalog with DemoCatalog, and tells
// whether it did; a catalog with anything in it, archived or not, is left alone.
func (s *Service) SeedDemoCatalog(ctx context.Context) (bool, error) {
	defer s.catalogWritten()
	seeded, err := s.store.SeedProducts(ctx, DemoCatalog())
	if err != nil {
		return false, fmt.Errorf("seed demo catalog: %w", err)
	}
	return seeded, nil
}

// Package shop is what the store sells and how it is bought: the catalog,
// carts, and orders paid with a card saved at checkout and charged when the
// order ships. Cards, charges, refunds and recovery links are billing's; an
// order uses them. Storage is reached through the Store interface, which
// internal/postgres implements.
package shop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

// ProductStatus says whether a product is for sale.
type ProductStatus string

// Product statuses.
const (
	ProductActive   ProductStatus = "active"
	ProductArchived ProductStatus = "archived"
)

// Product is something the store sells, at one price.
type Product struct {
	ID          int64
	Name        string
	Description string
	Price       billing.Money
	Status      ProductStatus
	CreatedAt   time.Time
}

// CartLine is a product in a cart, at its current price.
type CartLine struct {
	Product  Product
	Quantity int
}

// Amount is the line's price times its quantity.
func (l CartLine) Amount() billing.Money {
	return billing.Money{Amount: l.Product.Price.Amount * int64(l.Quantity), Currency: l.Product.Price.Currency}
}

// Cart is a visitor's cart. ID is zero until something is added.
type Cart struct {
	ID    int64
	Lines []CartLine
}

// Currency is the currency of the cart's lines; empty when it is empty.
func (c Cart) Currency() string {
	if len(c.Lines) == 0 {
		return ""
	}
	return c.Lines[0].Product.Price.Currency
}

// Total is what the cart's lines come to.
func (c Cart) Total() billing.Money {
	t := billing.Money{Currency: c.Currency()}
	for _, l := range c.Lines {
		t.Amount += l.Amount().Amount
	}
	return t
}

// Count is how many items the cart holds.
func (c Cart) Count() int {
	n := 0
	for _, l := range c.Lines {
		n += l.Quantity
	}
	return n
}

// OrderStatus is where an order stands; the words are the admin's and the contract's.
type OrderStatus string

// Order statuses.
const (
	// AwaitingCard: created at checkout; the customer is saving a card.
	AwaitingCard OrderStatus = "awaiting_card"
	// Placed: the card is saved and will be charged when the order ships.
	Placed OrderStatus = "placed"
	// Charging: a charge was sent and its outcome is not known yet.
	Charging          OrderStatus = "charging"
	Paid              OrderStatus = "paid"
	PaymentFailed     OrderStatus = "payment_failed"
	Canceled          OrderStatus = "canceled"
	PartiallyRefunded OrderStatus = "partially_refunded"
	Refunded          OrderStatus = "refunded"
)

// OrderStatuses lists every status, in the order an order meets them.
var OrderStatuses = []OrderStatus{AwaitingCard, Placed, Charging, Paid, PaymentFailed, Canceled, PartiallyRefunded, Refunded}

// Chargeable tells whether the order can be charged now.
func (s OrderStatus) Chargeable() bool { return s == Placed || s == PaymentFailed }

// Cancelable tells whether the order can be canceled: it has not been paid
// and no charge is in flight.
func (s OrderStatus) Cancelable() bool {
	return s == AwaitingCard || s == Placed || s == PaymentFailed
}

// Refundable tells whether money was received for the order and not all of it returned.
func (s OrderStatus) Refundable() bool { return s == Paid || s == PartiallyRefunded }

// paidFamily tells whether the order's money has been received.
func (s OrderStatus) paidFamily() bool { return s == Paid || s == PartiallyRefunded || s == Refunded }

// OrderLine is one product of an order, as it was at checkout.
type OrderLine struct {
	ProductID  int64
	Name       string
	UnitAmount int64
	Quantity   int
}

// Order is a customer's order.
type Order struct {
	ID             int64
	Email          string
	CustomerID     int64
	Status         OrderStatus
	Total          billing.Money
	CheckoutKey    string
	CartID         int64
	SetupSessionID string
	// SessionURL is the setup session's page, while it is open.
	SessionURL      string
	PaymentMethodID string
	// Card is the card to charge, once saved.
	Card       *billing.PaymentMethod
	ChargeKey  string
	Lines      []OrderLine
	CreatedAt  time.Time
	PlacedAt   time.Time
	PaidAt     time.Time
	CanceledAt time.Time
}

// Number is how people name the order: "#1042".
func (o Order) Number() string { return fmt.Sprintf("#%d", o.ID) }

// LineAmount is a line's unit price times its quantity, in the order's currency.
func (o Order) LineAmount(l OrderLine) billing.Money {
	return billing.Money{Amount: l.UnitAmount * int64(l.Quantity), Currency: o.Total.Currency}
}

// UnitPrice is a line's unit price in the order's currency.
func (o Order) UnitPrice(l OrderLine) billing.Money {
	return billing.Money{Amount: l.UnitAmount, Currency: o.Total.Currency}
}

// items are the order's lines as a charge's line items.
func (o Order) items() []billing.LineItem {
	items := make([]billing.LineItem, len(o.Lines))
	for i, l := range o.Lines {
		items[i] = billing.LineItem{Name: l.Name, UnitAmount: l.UnitAmount, Quantity: int64(l.Quantity)}
	}
	return items
}

// OrderFacts are what an order's status follows from, read in the
// transaction that settles it.
type OrderFacts struct {
	Order Order
	// SavedCard is the card the order's setup session saved, once complete.
	SavedCard *billing.PaymentMethod
	// SessionExpired says the order's setup session expired without saving
	// a card: the customer left, and the order is given up.
	SessionExpired bool
	// Attempt is the charge attempt of the order's current charge key, if made.
	Attempt *billing.ChargeAttempt
}

// Settlement is what settling an order writes: its status and the emails
// the change sends.
type Settlement struct {
	Status OrderStatus
	Notify []billing.Notification
}

// OrderQuery selects a page of the admin's order list.
type OrderQuery struct {
	Status OrderStatus
	// Search is an order number (1042 or #1042) or the start of an email.
	Search string
	// Before, when set, is the keyset cursor: orders numbered below it.
	Before int64
	Limit  int
}

// StatusTotal counts the orders in one status and what they come to, per currency.
type StatusTotal struct {
	Status OrderStatus
	Count  int
	Totals []billing.Money
}

// Store keeps the catalog, carts and orders. Implementations make each method atomic.
type Store interface {
	Products(ctx context.Context, activeOnly bool) ([]Product, error)
	// Product returns a product, or billing.ErrNotFound.
	Product(ctx context.Context, id int64) (Product, error)
	CreateProduct(ctx context.Context, p Product) (Product, error)
	// UpdateProduct changes a product's name, description and price.
	UpdateProduct(ctx context.Context, p Product) (Product, error)
	SetProductStatus(ctx context.Context, id int64, status ProductStatus) (Product, error)
	// SeedProducts adds products only to an empty catalog, and tells whether it did.
	SeedProducts(ctx context.Context, products []Product) (bool, error)
	// CatalogVersion returns the catalog's version, which every change to
	// products raises when it commits.
	CatalogVersion(ctx context.Context) (int64, error)

	// Cart returns the cart of a cookie's token hash; an empty Cart when none.
	Cart(ctx context.Context, tokenHash []byte) (Cart, error)
	// CartCount returns how many items the cart of a token hash holds; 0 when none.
	CartCount(ctx context.Context, tokenHash []byte) (int, error)
	// ChangeCart runs change on the cart of tokenHash (made if missing) and
	// the product, with the cart locked, and sets the product's quantity to
	// what change returns (0: remove the line). An error from change
	// changes nothing.
	ChangeCart(ctx context.Context, tokenHash []byte, productID int64, change func(Cart, Product) (int, error)) (Cart, error)

	// CreateOrder commits an order and its lines, or returns the order of its
	// checkout key with created false.
	CreateOrder(ctx context.Context, o Order) (order Order, created bool, err error)
	// SetOrderSession makes a just created setup session the order's, unless
	// it has one; it returns the order afterwards.
	SetOrderSession(ctx context.Context, orderID int64, sessionID string) (Order, error)
	// Order returns an order with its lines and card, or billing.ErrNotFound.
	Order(ctx context.Context, id int64) (Order, error)
	// OrderOfSession returns the order a setup session saves a card for, or billing.ErrNotFound.
	OrderOfSession(ctx context.Context, sessionID string) (Order, error)
	// OrdersOf returns the orders a Stripe object concerns: a setup or
	// recovery session, or a PaymentIntent of their charges.
	OrdersOf(ctx context.Context, stripeID string) ([]int64, error)
	// OrderOfAttempt returns the order a charge attempt was for, or billing.ErrNotFound.
	OrderOfAttempt(ctx context.Context, attemptID int64) (int64, error)
	// OrderAttempts returns the ids of an order's charge attempts, newest first.
	OrderAttempts(ctx context.Context, orderID int64) ([]int64, error)
	ListOrders(ctx context.Context, q OrderQuery) ([]Order, error)
	OrderTotals(ctx context.Context) ([]StatusTotal, error)
	// OrdersToSettle returns orders whose status may lag behind their
	// session, charge or refunds: those awaiting a card, charging, failed or paid.
	OrdersToSettle(ctx context.Context, limit int) ([]int64, error)

	// BeginCharge locks an order, runs check on it, and unless check refuses
	// marks it charging with key as its charge's idempotency key, in one
	// transaction; it returns the order (as it was, when refused).
	BeginCharge(ctx context.Context, orderID int64, key string, check func(Order) error) (Order, error)
	// AbortCharge puts back an order whose charge with key was refused
	// before any attempt was made.
	AbortCharge(ctx context.Context, orderID int64, key string) error
	// CancelOrder cancels an order that is still cancelable; it returns the order afterwards.
	CancelOrder(ctx context.Context, orderID int64) (Order, error)
	// SettleOrder locks an order, reads its facts, and writes what decide
	// makes of them, in one transaction.
	SettleOrder(ctx context.Context, orderID int64, decide func(OrderFacts) Settlement) (Order, error)

	// BatchOrders returns the orders of a selection that exist: the picked
	// ones, whatever their status, or every placed one numbered Through or
	// lower (0: all), by number.
	BatchOrders(ctx context.Context, sel BatchSelection) ([]BatchOrder, error)
	// CreateChargeBatch locks the selection's orders and runs check on
	// them; unless check refuses, it writes the batch, its orders, a charge
	// job for each and the audit row of its start (ActionOrderChargeBatch,
	// by b.Actor), in one transaction. River leaves out an order
	// whose job from an earlier batch is unfinished; if that is every one,
	// it writes nothing and returns ErrBatchInFlight.
	CreateChargeBatch(ctx context.Context, b ChargeBatch, sel BatchSelection, check func([]BatchOrder) error) (ChargeBatch, error)
	// ChargeBatch returns a batch with its progress, or billing.ErrNotFound.
	ChargeBatch(ctx context.Context, id int64) (ChargeBatch, error)
	// ChargeBatchOfKey returns the batch a confirmation's key started, or billing.ErrNotFound.
	ChargeBatchOfKey(ctx context.Context, key string) (ChargeBatch, error)
	// ChargeBatches returns the newest batches with their progress.
	ChargeBatches(ctx context.Context, limit int) ([]ChargeBatch, error)
	// BatchActor returns who started a batch.
	BatchActor(ctx context.Context, batchID int64) (staff.Actor, error)
	// SkipBatchOrder marks an order its batch's job skipped, with why;
	// charged and failed orders are counted from their status.
	SkipBatchOrder(ctx context.Context, batchID, orderID int64, note string) error

	// Secret returns the named shared secret, creating it on first use.
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Refusals of an order action, for callers that branch on them (a batch
// job); each comes wrapped with a message for people.
var (
	ErrChargeInFlight = errors.New("a charge of this order is in flight")
	ErrOrderPaid      = errors.New("this order is paid")
)

// Service runs the shop's flows.
type Service struct {
	store     Store
	billing   *billing.Service
	baseURL   string
	links     billing.LinkSigner
	auditFunc billing.AuditFunc
	now       func() time.Time
	log       *slog.Logger
	catalog   *catalogCache
}

// Options configure a Service.
type Options struct {
	BaseURL string
	// LinkKey signs the links to order pages (Store.Secret(LinkKeyName)).
	LinkKey []byte
	// Audit records cancels and catalog changes before they are made;
	// charges and refunds are recorded by billing, and a charge batch's
	// start by the Store, with the batch.
	Audit  billing.AuditFunc
	Now    func() time.Time
	Logger *slog.Logger
	// CatalogMaxAge bounds how long a change made on another server can go
	// unseen by Catalog; 0 means DefaultCatalogMaxAge.
	CatalogMaxAge time.Duration
}

// LinkKeyName names the shared secret that signs order links.
const LinkKeyName = "order_links"

// NewService returns a Service.
func NewService(store Store, b *billing.Service, opts Options) *Service {
	s := &Service{store: store, billing: b, baseURL: strings.TrimRight(opts.BaseURL, "/"),
		links:     billing.NewLinkSigner(opts.LinkKey, orderLinkDomain),
		auditFunc: opts.Audit, now: opts.Now, log: opts.Logger, catalog: newCatalogCache(opts.CatalogMaxAge)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// audit records an action before it is taken; without an AuditFunc it does nothing.
func (s *Service) audit(ctx context.Context, action, target string, m billing.Money, detail string) error {
	if s.auditFunc == nil {
		return nil
	}
	if err := s.auditFunc(ctx, action, target, m.Amount, m.Currency, detail); err != nil {
		return fmt.Errorf("%s %s: %w", action, target, err)
	}
	return nil
}

package billing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Service runs the store's flows over a Store and a Gateway.
type Service struct {
	store      Store
	gateway    Gateway
	baseURL    string
	currency   string
	apiVersion string
	// links signs recovery, card and manage links with the recovery key;
	// every replica loads the same one.
	links     LinkSigner
	now       func() time.Time
	log       *slog.Logger
	observer  Observer
	auditFunc AuditFunc
	// dunning is when a soft decline is retried, counted from the decline.
	dunning []time.Duration

	// versionsWarned holds the foreign API versions already logged.
	versionsWarned sync.Map
}

// Options configure a Service.
type Options struct {
	// BaseURL is the public URL of the store, used in Checkout's redirects.
	BaseURL string
	// Currency is the lower-case ISO code used for setup sessions.
	Currency string
	// APIVersion is the Stripe API version the gateway is pinned to.
	APIVersion string
	// RecoveryKey signs recovery links (Store.Secret(RecoveryKeyName)).
	RecoveryKey []byte
	// Now is the clock; time.Now by default.
	Now    func() time.Time
	Logger *slog.Logger
	// Observer is told of charges and webhook deliveries; nil: nobody.
	Observer Observer
	// Audit, when set, records every charge, retry, detach, make-default and
	// replay before it reaches Stripe; its error stops the action.
	Audit AuditFunc
	// DunningSchedule is when a soft-declined charge is retried, counted
	// from the decline (ParseDunningSchedule): nil is
	// DefaultDunningSchedule, empty retries nothing.
	DunningSchedule []time.Duration
}

// NewService returns a Service.
func NewService(store Store, gateway Gateway, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	observer := opts.Observer
	if observer == nil {
		observer = noObserver{}
	}
	dunning := opts.DunningSchedule
	if dunning == nil {
		dunning = DefaultDunningSchedule()
	}
	return &Service{
		dunning:    dunning,
		observer:   observer,
		store:      store,
		gateway:    gateway,
		baseURL:    strings.TrimRight(opts.BaseURL, "/"),
		currency:   opts.Currency,
		apiVersion: opts.APIVersion,
		links:      NewLinkSigner(opts.RecoveryKey, ""),
		now:        now,
		log:        log,
		auditFunc:  opts.Audit,
	}
}

// CustomerIdempotencyKey is the idempotency key of the Stripe Customer create
// call for email. It is derived rather than random so that it needs no storing
// before the call: a retry after a crash or a lost response sends the same key
// and gets the Customer Stripe already made (Stripe keeps keys for 24 hours).
// generation (Customer.StripeGeneration) changes the key after the Customer
// was deleted, or Stripe would answer the next create with the deleted one.
func CustomerIdempotencyKey(email string, generation int) string {
	seed := email
	if generation > 0 {
		seed = fmt.Sprintf("%s|%d", email, generation) // generation 0 keeps the keys made before generations existed
	}
	sum := sha256.Sum256([]byte(seed))
	return "customer-" + hex.EncodeToString(sum[:16])
}

// newIdempotencyKey returns a random key for a Stripe create call.
func newIdempotencyKey() string {
	return rand.Text()
}

var sessionIDPattern = regexp.MustCompile(`^cs_(test|live)_[A-Za-z0-9]{1,250}$`)

// ValidSessionID tells whether id has the shape of a Checkout Session id, so
// that garbage is turned away before it reaches the database or Stripe.
func ValidSessionID(id string) bool {
	return sessionIDPattern.MatchString(id)
}

// ensureStripeCustomer finds or creates the customer for email, with its
// Stripe Customer. A returning customer costs no Stripe call.
func (s *Service) ensureStripeCustomer(ctx context.Context, email string) (Customer, error) {
	// The store looks the customer up first: a known Stripe Customer costs one read.
	return s.store.EnsureStripeCustomer(ctx, email, s.gateway.CreateCustomer)
}

// Currency is the store's default currency.
func (s *Service) Currency() string { return s.currency }

// Package stripeapi implements billing.Gateway on stripe-go's client.API.
package stripeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/storefront/storefront/internal/billing"
)

// Operation names, as counted by Calls.
const (
	OpCreateCustomer        = "customers.create"
	OpCreateSession         = "checkout.sessions.create"
	OpRetrieveSession       = "checkout.sessions.retrieve"
	OpAttachPaymentMethod   = "payment_methods.attach"
	OpRetrieveSetupIntent   = "setup_intents.retrieve"
	OpRetrievePaymentMethod = "payment_methods.retrieve"
	OpRetrieveEvent         = "events.retrieve"
	OpListEvents            = "events.list"
	OpCreatePaymentIntent   = "payment_intents.create"
	OpRetrievePaymentIntent = "payment_intents.retrieve"
	OpUpdateCustomer        = "customers.update"
	OpDetachPaymentMethod   = "payment_methods.detach"
	OpExpireSession         = "checkout.sessions.expire"
	OpCreateRefund          = "refunds.create"
	OpCancelPaymentIntent   = "payment_intents.cancel"
	OpRetrieveRefund        = "refunds.retrieve"
	OpRetrieveCharge        = "charges.retrieve"
)

// DefaultTimeout is the budget of one Stripe call, stripe-go's retries
// included, when Config.Timeout is zero. It is well inside the web server's
// write timeout, so a request whose Stripe call runs out still has time to
// answer (an attempt page saying processing, or an error page).
const DefaultTimeout = 10 * time.Second

// Gateway is billing.Gateway over Stripe's API. It counts the calls it makes
// per operation, which tests use to hold the store to its call budget.
type Gateway struct {
	api      *client.API
	log      *slog.Logger
	observer CallObserver
	timeout  time.Duration

	mu    sync.Mutex
	calls map[string]int
}

var _ billing.Gateway = (*Gateway)(nil)

// Config configures a Gateway.
type Config struct {
	SecretKey string
	// APIBase overrides Stripe's API URL (stripe-mock, the emulator).
	APIBase string
	// HTTPClient defaults to one whose timeout is Timeout.
	HTTPClient *http.Client
	// Timeout is the deadline of each call, retries included (stripe-go stops
	// retrying once it passes); zero means DefaultTimeout.
	Timeout time.Duration
	// MaxNetworkRetries is how often stripe-go retries a failed request
	// (with the same idempotency key); nil keeps stripe-go's default.
	MaxNetworkRetries *int64
	Logger            *slog.Logger
	// Observer, when set, is told how every call ended and how long it took.
	Observer CallObserver
	// Limiter, when set, paces every HTTP request to Stripe, stripe-go's
	// retries included, on a schedule shared with other replicas.
	Limiter Limiter
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: timeout}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Limiter != nil {
		base := httpClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		paced := *httpClient
		paced.Transport = &pacedTransport{base: base, limiter: cfg.Limiter, log: log}
		httpClient = &paced
	}
	backendConfig := &stripe.BackendConfig{
		HTTPClient:        httpClient,
		LeveledLogger:     leveledLogger{log: cfg.Logger},
		MaxNetworkRetries: cfg.MaxNetworkRetries,
	}
	if cfg.APIBase != "" {
		backendConfig.URL = stripe.String(cfg.APIBase)
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, backendConfig)
	return &Gateway{
		log:      log,
		api:      client.New(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend}),
		calls:    map[string]int{},
		observer: cfg.Observer,
		timeout:  timeout,
	}
}

// call counts a call of op, gives it its deadline (the caller's, or the
// gateway's budget from now if that comes first) and returns when it
// started, for observe.
func (g *Gateway) call(ctx context.Context, op string) (context.Context, context.CancelFunc, time.Time) {
	g.mu.Lock()
	g.calls[op]++
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	return ctx, cancel, time.Now()
}

// observe tells the observer how a call that started at start ended, and
// logs a failed one with Stripe's request id, which support needs to trace
// it: a card declined at info (an outcome, shown to the admin), any other
// failure at warn, whether or not the caller recovers from it.
func (g *Gateway) observe(op string, start time.Time, err error) {
	if g.observer != nil {
		g.observer.ObserveCall(op, Outcome(err), time.Since(start))
	}
	if err == nil {
		return
	}
	var se *stripe.Error
	if !errors.As(err, &se) {
		g.log.Warn("stripe call failed", "op", op, "err", err)
		return
	}
	level := slog.LevelWarn
	if se.Type == stripe.ErrorTypeCard {
		level = slog.LevelInfo
	}
	g.log.Log(context.Background(), level, "stripe call failed", "op", op, "http_status", se.HTTPStatusCode,
		"type", se.Type, "code", se.Code, "param", se.Param, "stripe_request_id", se.RequestID, "message", se.Msg)
}

// Calls returns how many calls were made per operation.
func (g *Gateway) Calls() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]int, len(g.calls))
	for op, n := range g.calls {
		out[op] = n
	}
	return out
}

// TotalCalls returns how many calls were made in all.
func (g *Gateway) TotalCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	total := 0
	for _, n := range g.calls {
		total += n
	}
	return total
}

// Operations returns the names of the operations called so far, sorted.
func (g *Gateway) Operations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ops := make([]string, 0, len(g.calls))
	for op := range g.calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// CreateCustomer creates a Stripe Customer for email.
func (g *Gateway) CreateCustomer(ctx context.Context, email, idempotencyKey string) (string, error) {
	ctx, cancel, start := g.call(ctx, OpCreateCustomer)
	defer cancel()
	params := &stripe.CustomerParams{Email: stripe.String(email)}
	params.Context = ctx
	params.SetIdempotencyKey(idempotencyKey)
	c, err := g.api.Customers.New(params)
	g.observe(OpCreateCustomer, start, err)
	if err != nil {
		return "", gatewayError(OpCreateCustomer, err)
	}
	return c.ID, nil
}

// CreateSetupSession creates a Checkout Session in setup mode.
func (g *Gateway) CreateSetupSession(ctx context.Context, p billing.SetupSessionParams) (billing.CheckoutSession, error) {
	ctx, cancel, start := g.call(ctx, OpCreateSession)
	defer cancel()
	params := &stripe.CheckoutSessionParams{
		Mode:       stripe.String(string(stripe.CheckoutSessionModeSetup)),
		Currency:   stripe.String(p.Currency),
		SuccessURL: stripe.String(p.SuccessURL),
		CancelURL:  stripe.String(p.CancelURL),
		// Cards only, on both kinds of session: the store records and
		// charges cards, so Checkout must not offer Link, bank debits or
		// wallets whose payment methods it could not show or charge.
		PaymentMethodTypes: cardOnly(),
	}
	switch {
	case p.StripeCustomerID != "":
		params.Customer = stripe.String(p.StripeCustomerID)
	case p.CustomerEmail != "":
		params.CustomerEmail = stripe.String(p.CustomerEmail)
	}
	for k, v := range p.Metadata {
		params.AddMetadata(k, v)
	}
	params.Context = ctx
	if p.IdempotencyKey != "" {
		params.SetIdempotencyKey(p.IdempotencyKey)
	}
	s, err := g.api.CheckoutSessions.New(params)
	g.observe(OpCreateSession, start, err)
	if err != nil {
		return billing.CheckoutSession{}, gatewayError(OpCreateSession, err)
	}
	return checkoutSession(s), nil
}

// cardOnly is payment_method_types=[card]: the one type the store handles.
func cardOnly() []*string { return stripe.StringSlice([]string{"card"}) }

func checkoutSession(s *stripe.CheckoutSession) billing.CheckoutSession {
	out := billing.CheckoutSession{
		ID:       s.ID,
		Mode:     string(s.Mode),
		Status:   string(s.Status),
		Currency: string(s.Currency),
		URL:      s.URL,
	}
	if s.ExpiresAt != 0 {
		out.ExpiresAt = time.Unix(s.ExpiresAt, 0).UTC()
	}
	return out
}

// RetrieveSession retrieves a Checkout Session with its SetupIntent or
// PaymentIntent and their PaymentMethod expanded: one call where two or
// three would otherwise be needed.
func (g *Gateway) RetrieveSession(ctx context.Context, id string) (billing.SessionState, error) {
	ctx, cancel, start := g.call(ctx, OpRetrieveSession)
	defer cancel()
	syncedAt := time.Now()
	params := &stripe.CheckoutSessionParams{}
	params.Context = ctx
	params.AddExpand("setup_intent.payment_method")
	params.AddExpand("payment_intent.payment_method")
	s, err := g.api.CheckoutSessions.Get(id, params)
	g.observe(OpRetrieveSession, start, err)
	if err != nil {
		return billing.SessionState{}, gatewayError(OpRetrieveSession, err)
	}
	return sessionState(s, syncedAt), nil
}

// sessionState is what a Checkout Session says, with its SetupIntent or
// PaymentIntent and their card where they were expanded.
func sessionState(s *stripe.CheckoutSession, syncedAt time.Time) billing.SessionState {
	state := billing.SessionState{
		ID:            s.ID,
		Mode:          string(s.Mode),
		Status:        string(s.Status),
		PaymentStatus: string(s.PaymentStatus),
		Currency:      string(s.Currency),
		AttemptID:     attemptID(s.Metadata),
		SyncedAt:      syncedAt,
	}
	if s.Customer != nil {
		state.StripeCustomerID = s.Customer.ID
	}
	switch {
	case s.CustomerDetails != nil && s.CustomerDetails.Email != "":
		state.Email = s.CustomerDetails.Email
	case s.CustomerEmail != "":
		state.Email = s.CustomerEmail
	}
	var pm *stripe.PaymentMethod
	if si := s.SetupIntent; si != nil {
		state.SetupIntentID = si.ID
		state.SetupIntentStatus = string(si.Status)
		pm = si.PaymentMethod
	}
	if pi := s.PaymentIntent; pi != nil {
		state.PaymentIntentID = pi.ID
		state.PaymentIntentStatus = string(pi.Status)
		if state.AttemptID == 0 {
			state.AttemptID = attemptID(pi.Metadata)
		}
		pm = pi.PaymentMethod
	}
	if pm != nil && pm.ID != "" {
		saved := paymentMethod(pm, syncedAt)
		state.PaymentMethod = &saved
	}
	return state
}

// metadataAttempt is the metadata key that ties Stripe objects to a charge attempt.
const metadataAttempt = "charge_attempt_id"

func attemptID(metadata map[string]string) int64 {
	id, _ := strconv.ParseInt(metadata[metadataAttempt], 10, 64)
	return id
}

// ChargeOffSession creates and confirms a PaymentIntent off-session with the
// attempt's idempotency key. A card error (402) comes back as an outcome
// with its codes and the PaymentIntent Stripe left in requires_payment_method.
func (g *Gateway) ChargeOffSession(ctx context.Context, c billing.OffSessionCharge) (billing.ChargeOutcome, error) {
	ctx, cancel, start := g.call(ctx, OpCreatePaymentIntent)
	defer cancel()
	params := &stripe.PaymentIntentParams{
		Amount:        stripe.Int64(c.Money.Amount),
		Currency:      stripe.String(c.Money.Currency),
		Customer:      stripe.String(c.StripeCustomerID),
		PaymentMethod: stripe.String(c.PaymentMethodID),
		OffSession:    stripe.Bool(true),
		Confirm:       stripe.Bool(true),
		// Cards only. Without payment_method_types, API versions from
		// 2023-08-16 turn automatic payment methods on, and Stripe then
		// refuses confirm=true without a return_url. The store saves and
		// shows cards only, and an off-session charge has nobody to redirect,
		// so naming the one type it handles is the honest request;
		// automatic_payment_methods[allow_redirects]=never would also pass
		// but lets the Dashboard add types the store cannot record.
		PaymentMethodTypes: cardOnly(),
	}
	params.Context = ctx
	params.SetIdempotencyKey(c.IdempotencyKey)
	params.AddMetadata(metadataAttempt, strconv.FormatInt(c.AttemptID, 10))
	pi, err := g.api.PaymentIntents.New(params)
	g.observe(OpCreatePaymentIntent, start, err)
	if err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.Type == stripe.ErrorTypeCard {
			outcome := billing.ChargeOutcome{
				Code: string(se.Code), DeclineCode: string(se.DeclineCode), Message: se.Msg, AttemptID: c.AttemptID,
				Status: string(stripe.PaymentIntentStatusRequiresPaymentMethod),
			}
			if se.PaymentIntent != nil {
				outcome.PaymentIntentID = se.PaymentIntent.ID
				outcome.Status = string(se.PaymentIntent.Status)
			}
			return outcome, nil
		}
		return billing.ChargeOutcome{}, gatewayError(OpCreatePaymentIntent, err)
	}
	return paymentIntentOutcome(pi), nil
}

// PaymentIntent retrieves a PaymentIntent's outcome.
func (g *Gateway) PaymentIntent(ctx context.Context, id string) (billing.ChargeOutcome, error) {
	ctx, cancel, start := g.call(ctx, OpRetrievePaymentIntent)
	defer cancel()
	params := &stripe.PaymentIntentParams{}
	params.Context = ctx
	pi, err := g.api.PaymentIntents.Get(id, params)
	g.observe(OpRetrievePaymentIntent, start, err)
	if err != nil {
		return billing.ChargeOutcome{}, gatewayError(OpRetrievePaymentIntent, err)
	}
	return paymentIntentOutcome(pi), nil
}

func paymentIntentOutcome(pi *stripe.PaymentIntent) billing.ChargeOutcome {
	o := billing.ChargeOutcome{PaymentIntentID: pi.ID, Status: string(pi.Status), AttemptID: attemptID(pi.Metadata)}
	if e := pi.LastPaymentError; e != nil {
		o.Code, o.DeclineCode, o.Message = string(e.Code), string(e.DeclineCode), e.Msg
	}
	return o
}

// CreatePaymentSession creates the payment-mode Checkout Session of a
// recovery link: the failed amount, for the same customer, saving the card
// used for the next off-session charge.
func (g *Gateway) CreatePaymentSession(ctx context.Context, p billing.PaymentSessionParams) (billing.CheckoutSession, error) {
	ctx, cancel, start := g.call(ctx, OpCreateSession)
	defer cancel()
	attempt := strconv.FormatInt(p.AttemptID, 10)
	params := &stripe.CheckoutSessionParams{
		Mode:               stripe.String(string(stripe.CheckoutSessionModePayment)),
		PaymentMethodTypes: cardOnly(), // see CreateSetupSession
		Customer:           stripe.String(p.StripeCustomerID),
		SuccessURL:         stripe.String(p.SuccessURL),
		CancelURL:          stripe.String(p.CancelURL),
		LineItems:          lineItems(p),
		PaymentIntentData: &stripe.CheckoutSessionPaymentIntentDataParams{
			SetupFutureUsage: stripe.String(string(stripe.PaymentIntentSetupFutureUsageOffSession)),
			Metadata:         map[string]string{metadataAttempt: attempt},
		},
	}
	params.Context = ctx
	params.AddMetadata(metadataAttempt, attempt)
	if p.IdempotencyKey != "" {
		params.SetIdempotencyKey(p.IdempotencyKey)
	}
	s, err := g.api.CheckoutSessions.New(params)
	g.observe(OpCreateSession, start, err)
	if err != nil {
		return billing.CheckoutSession{}, gatewayError(OpCreateSession, err)
	}
	return checkoutSession(s), nil
}

// lineItems are a recovery session's lines: what the charge was for, line
// by line, or one line for its amount.
func lineItems(p billing.PaymentSessionParams) []*stripe.CheckoutSessionLineItemParams {
	items := p.Items
	if len(items) == 0 {
		items = []billing.LineItem{{Name: p.Description, UnitAmount: p.Money.Amount, Quantity: 1}}
	}
	out := make([]*stripe.CheckoutSessionLineItemParams, len(items))
	for i, it := range items {
		out[i] = &stripe.CheckoutSessionLineItemParams{
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripe.String(p.Money.Currency),
				UnitAmount:  stripe.Int64(it.UnitAmount),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripe.String(it.Name)},
			},
			Quantity: stripe.Int64(it.Quantity),
		}
	}
	return out
}

// SetDefaultPaymentMethod sets the Customer's invoice_settings.default_payment_method.
func (g *Gateway) SetDefaultPaymentMethod(ctx context.Context, stripeCustomerID, paymentMethodID string) error {
	ctx, cancel, start := g.call(ctx, OpUpdateCustomer)
	defer cancel()
	params := &stripe.CustomerParams{
		InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(paymentMethodID)},
	}
	params.Context = ctx
	_, err := g.api.Customers.Update(stripeCustomerID, params)
	g.observe(OpUpdateCustomer, start, err)
	if err != nil {
		return gatewayError(OpUpdateCustomer, err)
	}
	return nil
}

// DetachPaymentMethod detaches a card from its customer.
func (g *Gateway) DetachPaymentMethod(ctx context.Context, paymentMethodID string) error {
	ctx, cancel, start := g.call(ctx, OpDetachPaymentMethod)
	defer cancel()
	params := &stripe.PaymentMethodDetachParams{}
	params.Context = ctx
	_, err := g.api.PaymentMethods.Detach(paymentMethodID, params)
	g.observe(OpDetachPaymentMethod, start, err)
	if err != nil {
		return gatewayError(OpDetachPaymentMethod, err)
	}
	return nil
}

// ExpireSession expires an open Checkout Session, so that nobody can pay it
// any more. Stripe refuses (400) to expire a session that is not open.
func (g *Gateway) ExpireSession(ctx context.Context, id string) (billing.SessionState, error) {
	ctx, cancel, start := g.call(ctx, OpExpireSession)
	defer cancel()
	syncedAt := time.Now()
	params := &stripe.CheckoutSessionExpireParams{}
	params.Context = ctx
	s, err := g.api.CheckoutSessions.Expire(id, params)
	g.observe(OpExpireSession, start, err)
	if err != nil {
		return billing.SessionState{}, gatewayError(OpExpireSession, err)
	}
	return sessionState(s, syncedAt), nil
}

// CancelPaymentIntent cancels a PaymentIntent that will not be paid, as
// abandoned: the customer paid through another one.
func (g *Gateway) CancelPaymentIntent(ctx context.Context, paymentIntentID, idempotencyKey string) error {
	ctx, cancel, start := g.call(ctx, OpCancelPaymentIntent)
	defer cancel()
	params := &stripe.PaymentIntentCancelParams{
		CancellationReason: stripe.String(string(stripe.PaymentIntentCancellationReasonAbandoned)),
	}
	params.Context = ctx
	params.SetIdempotencyKey(idempotencyKey)
	_, err := g.api.PaymentIntents.Cancel(paymentIntentID, params)
	g.observe(OpCancelPaymentIntent, start, err)
	if err != nil {
		return gatewayError(OpCancelPaymentIntent, err)
	}
	return nil
}

// RefundPayment refunds a PaymentIntent, in full or for an amount, once per
// idempotency key.
func (g *Gateway) RefundPayment(ctx context.Context, p billing.RefundParams) (billing.Refund, error) {
	ctx, cancel, start := g.call(ctx, OpCreateRefund)
	defer cancel()
	params := &stripe.RefundParams{
		PaymentIntent: stripe.String(p.PaymentIntentID),
		Reason:        stripe.String(p.Reason),
	}
	if p.Amount > 0 {
		params.Amount = stripe.Int64(p.Amount)
	}
	if p.LocalID != 0 {
		for k, v := range billing.RefundMetadata(p.LocalID) {
			params.AddMetadata(k, v)
		}
	}
	params.Context = ctx
	params.SetIdempotencyKey(p.IdempotencyKey)
	r, err := g.api.Refunds.New(params)
	g.observe(OpCreateRefund, start, err)
	if err != nil {
		return billing.Refund{}, gatewayError(OpCreateRefund, err)
	}
	return refund(r), nil
}

// Refund retrieves a refund.
func (g *Gateway) Refund(ctx context.Context, id string) (billing.Refund, error) {
	ctx, cancel, start := g.call(ctx, OpRetrieveRefund)
	defer cancel()
	params := &stripe.RefundParams{}
	params.Context = ctx
	r, err := g.api.Refunds.Get(id, params)
	g.observe(OpRetrieveRefund, start, err)
	if err != nil {
		return billing.Refund{}, gatewayError(OpRetrieveRefund, err)
	}
	return refund(r), nil
}

func refund(r *stripe.Refund) billing.Refund {
	out := billing.Refund{ID: r.ID, Status: string(r.Status), Amount: r.Amount, Currency: string(r.Currency),
		LocalID: billing.RefundLocalID(r.Metadata), FailureReason: string(r.FailureReason)}
	if r.PaymentIntent != nil {
		out.PaymentIntentID = r.PaymentIntent.ID
	}
	return out
}

// Charge retrieves a charge, for how much of it has been refunded.
func (g *Gateway) Charge(ctx context.Context, id string) (billing.ChargeState, error) {
	ctx, cancel, start := g.call(ctx, OpRetrieveCharge)
	defer cancel()
	params := &stripe.ChargeParams{}
	params.Context = ctx
	c, err := g.api.Charges.Get(id, params)
	g.observe(OpRetrieveCharge, start, err)
	if err != nil {
		return billing.ChargeState{}, gatewayError(OpRetrieveCharge, err)
	}
	out := billing.ChargeState{ID: c.ID, AmountRefunded: c.AmountRefunded}
	if c.PaymentIntent != nil {
		out.PaymentIntentID = c.PaymentIntent.ID
	}
	return out, nil
}

// AttachPaymentMethod attaches a payment method to a Stripe Customer.
func (g *Gateway) AttachPaymentMethod(ctx context.Context, paymentMethodID, stripeCustomerID string) error {
	ctx, cancel, start := g.call(ctx, OpAttachPaymentMethod)
	defer cancel()
	params := &stripe.PaymentMethodAttachParams{Customer: stripe.String(stripeCustomerID)}
	params.Context = ctx
	_, err := g.api.PaymentMethods.Attach(paymentMethodID, params)
	g.observe(OpAttachPaymentMethod, start, err)
	if err != nil {
		return gatewayError(OpAttachPaymentMethod, err)
	}
	return nil
}

// SetupIntent retrieves a SetupIntent with its payment method and customer expanded.
func (g *Gateway) SetupIntent(ctx context.Context, id string) (billing.SetupIntentState, error) {
	ctx, cancel, start := g.call(ctx, OpRetrieveSetupIntent)
	defer cancel()
	syncedAt := time.Now()
	params := &stripe.SetupIntentParams{}
	params.Context = ctx
	params.AddExpand("payment_method")
	params.AddExpand("customer")
	si, err := g.api.SetupIntents.Get(id, params)
	g.observe(OpRetrieveSetupIntent, start, err)
	if err != nil {
		return billing.SetupIntentState{}, gatewayError(OpRetrieveSetupIntent, err)
	}
	state := billing.SetupIntentState{SetupIntent: billing.SetupIntent{
		ID:       si.ID,
		Status:   string(si.Status),
		SyncedAt: syncedAt,
	}}
	if si.LastSetupError != nil {
		state.SetupIntent.LastErrorCode = string(si.LastSetupError.Code)
	}
	if c := customer(si.Customer); c != nil {
		state.Customer = c
		state.SetupIntent.StripeCustomerID = c.ID
	}
	if si.PaymentMethod != nil && si.PaymentMethod.ID != "" {
		pm := paymentMethod(si.PaymentMethod, syncedAt)
		state.PaymentMethod = &pm
		state.SetupIntent.PaymentMethodID = pm.ID
	}
	return state, nil
}

// PaymentMethod retrieves a payment method with its customer expanded.
func (g *Gateway) PaymentMethod(ctx context.Context, id string) (billing.PaymentMethodState, error) {
	ctx, cancel, start := g.call(ctx, OpRetrievePaymentMethod)
	defer cancel()
	syncedAt := time.Now()
	params := &stripe.PaymentMethodParams{}
	params.Context = ctx
	params.AddExpand("customer")
	pm, err := g.api.PaymentMethods.Get(id, params)
	g.observe(OpRetrievePaymentMethod, start, err)
	if err != nil {
		return billing.PaymentMethodState{}, gatewayError(OpRetrievePaymentMethod, err)
	}
	return billing.PaymentMethodState{PaymentMethod: paymentMethod(pm, syncedAt), Customer: customer(pm.Customer)}, nil
}

// Event retrieves one event.
func (g *Gateway) Event(ctx context.Context, id string) (billing.Event, error) {
	ctx, cancel, start := g.call(ctx, OpRetrieveEvent)
	defer cancel()
	params := &stripe.EventParams{}
	params.Context = ctx
	e, err := g.api.Events.Get(id, params)
	g.observe(OpRetrieveEvent, start, err)
	if err != nil {
		return billing.Event{}, gatewayError(OpRetrieveEvent, err)
	}
	return event(e)
}

// ListEvents lists the events of these types created since then, oldest
// first, following every page; each page is one call.
func (g *Gateway) ListEvents(ctx context.Context, since time.Time, types []string) ([]billing.Event, error) {
	var events []billing.Event
	startingAfter := ""
	for {
		// Each page is one call with a budget of its own.
		pageCtx, cancel, start := g.call(ctx, OpListEvents)
		params := &stripe.EventListParams{
			CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()},
			Types:        stripe.StringSlice(types),
		}
		params.Context = pageCtx
		params.Limit = stripe.Int64(100)
		params.Single = true
		if startingAfter != "" {
			params.StartingAfter = stripe.String(startingAfter)
		}
		iter := g.api.Events.List(params)
		page := 0
		var decodeErr error
		for decodeErr == nil && iter.Next() {
			page++
			var e billing.Event
			if e, decodeErr = event(iter.Event()); decodeErr == nil {
				events = append(events, e)
				startingAfter = e.ID
			}
		}
		cancel()
		if decodeErr != nil {
			return nil, decodeErr
		}
		err := iter.Err()
		g.observe(OpListEvents, start, err)
		if err != nil {
			return nil, gatewayError(OpListEvents, err)
		}
		if list := iter.EventList(); page == 0 || list == nil || !list.HasMore {
			break
		}
	}
	// Stripe lists newest first; apply in the order things happened.
	slices.Reverse(events)
	slices.SortStableFunc(events, func(a, b billing.Event) int { return a.Created.Compare(b.Created) })
	return events, nil
}

// event turns a stripe-go event back into the raw JSON the ledger keeps.
func event(e *stripe.Event) (billing.Event, error) {
	payload, err := json.Marshal(e)
	if err != nil {
		return billing.Event{}, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return billing.Event{
		ID:         e.ID,
		Type:       string(e.Type),
		APIVersion: e.APIVersion,
		Created:    time.Unix(e.Created, 0).UTC(),
		ObjectID:   objectID(e),
		Payload:    payload,
	}, nil
}

func objectID(e *stripe.Event) string {
	if e.Data == nil {
		return ""
	}
	id, _ := e.Data.Object["id"].(string)
	return id
}

func customer(c *stripe.Customer) *billing.StripeCustomer {
	if c == nil || c.ID == "" || c.Deleted {
		return nil
	}
	return &billing.StripeCustomer{ID: c.ID, Email: c.Email}
}

func paymentMethod(pm *stripe.PaymentMethod, syncedAt time.Time) billing.PaymentMethod {
	out := billing.PaymentMethod{
		ID:        pm.ID,
		Type:      string(pm.Type),
		CreatedAt: time.Unix(pm.Created, 0).UTC(),
		SyncedAt:  syncedAt,
	}
	if pm.Customer != nil {
		out.StripeCustomerID = pm.Customer.ID
	}
	if card := pm.Card; card != nil {
		out.Brand = string(card.Brand)
		out.Last4 = card.Last4
		out.ExpMonth = int(card.ExpMonth)
		out.ExpYear = int(card.ExpYear)
		out.Fingerprint = card.Fingerprint
	}
	return out
}

// gatewayError turns stripe-go's error into billing's, keeping what support
// needs to trace the call (Stripe's request id) and what the flows branch on.
func gatewayError(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return &billing.GatewayError{Op: op, Message: err.Error(), Err: err}
	}
	return &billing.GatewayError{
		Op:          op,
		HTTPStatus:  se.HTTPStatusCode,
		Type:        string(se.Type),
		Code:        string(se.Code),
		DeclineCode: string(se.DeclineCode),
		Param:       se.Param,
		Message:     se.Msg,
		RequestID:   se.RequestID,
		Err:         err,
	}
}

// leveledLogger routes stripe-go's logging into slog, keeping its chatter at debug level.
type leveledLogger struct{ log *slog.Logger }

func (l leveledLogger) logger() *slog.Logger {
	if l.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.log
}

func (l leveledLogger) Debugf(format string, v ...any) {
	l.logger().Debug(fmt.Sprintf(format, v...), "component", "stripe-go")
}
func (l leveledLogger) Infof(format string, v ...any) {
	l.logger().Debug(fmt.Sprintf(format, v...), "component", "stripe-go")
}
func (l leveledLogger) Warnf(format string, v ...any) {
	l.logger().Warn(fmt.Sprintf(format, v...), "component", "stripe-go")
}
func (l leveledLogger) Errorf(format string, v ...any) {
	l.logger().Debug(fmt.Sprintf(format, v...), "component", "stripe-go")
}

package stripeemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v76"
)

// StateStore keeps the emulator's state across restarts. The whole state is
// written as one JSON document after every request that may have changed it,
// while the emulator's lock is held and before the answer is sent or the
// request's webhook deliveries start: a caller that saw an answer, or an
// endpoint that got an event, can rely on it after a restart or a kill -9.
// Rewriting everything each time is O(state) per request, which is nothing
// for the few hundred objects of a local session and keeps one consistent
// snapshot instead of a log to replay.
type StateStore interface {
	// Load returns the last saved state, or nil when nothing was saved yet.
	Load(ctx context.Context) ([]byte, error)
	// Save replaces the saved state.
	Save(ctx context.Context, state []byte) error
}

// stateVersion is bumped when the snapshot's shape changes incompatibly; an
// unknown version is refused rather than half-read.
const stateVersion = 1

// snapshot is the emulator's durable state. stripe-go's types round-trip
// through JSON (references are stubs holding an id); the emulator's own
// structs get exported mirrors. Left out on purpose: the log of delivery
// attempts (Deliveries, for tests), idempotent requests still in flight (they
// never answered), and open 3-D Secure steps, which would keep a card number
// (after a restart the page asks for the card again, as for an expired step).
type snapshot struct {
	Version        int                              `json:"version"`
	Customers      map[string]*stripe.Customer      `json:"customers"`
	CustomerIDs    []string                         `json:"customer_ids"`
	Sessions       map[string]*sessionState         `json:"sessions"`
	SessionIDs     []string                         `json:"session_ids"`
	SetupIntents   map[string]*stripe.SetupIntent   `json:"setup_intents"`
	PaymentMethods map[string]*paymentMethodState   `json:"payment_methods"`
	PMIDs          []string                         `json:"payment_method_ids"`
	PaymentIntents map[string]*stripe.PaymentIntent `json:"payment_intents"`
	PIIDs          []string                         `json:"payment_intent_ids"`
	Charges        map[string]*stripe.Charge        `json:"charges"`
	Refunds        map[string]*stripe.Refund        `json:"refunds"`
	Events         map[string]*stripe.Event         `json:"events"`
	EventIDs       []string                         `json:"event_ids"`
	Idempotency    map[string]*idemState            `json:"idempotency"`
}

type sessionState struct {
	Session          *stripe.CheckoutSession `json:"session"`
	SetupFutureUsage string                  `json:"setup_future_usage,omitempty"`
	PIMetadata       map[string]string       `json:"pi_metadata,omitempty"`
	PIDescription    string                  `json:"pi_description,omitempty"`
	SIMetadata       map[string]string       `json:"si_metadata,omitempty"`
}

type paymentMethodState struct {
	PaymentMethod     *stripe.PaymentMethod `json:"payment_method"`
	DeclineCode       string                `json:"decline_code,omitempty"`
	Needs3DS          bool                  `json:"needs_3ds,omitempty"`
	OffSessionDecline string                `json:"off_session_decline,omitempty"`
	Detached          bool                  `json:"detached,omitempty"`
	DeclineNext       string                `json:"decline_next,omitempty"`
}

type idemState struct {
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Fingerprint string    `json:"fingerprint"`
	Created     time.Time `json:"created"`
	Status      int       `json:"status"`
	Body        []byte    `json:"body"`
}

// marshalStateLocked serializes the state. Callers hold e.mu; it takes
// idemMu (always after e.mu, never the other way round).
func (e *Emulator) marshalStateLocked() ([]byte, error) {
	s := snapshot{
		Version:        stateVersion,
		Customers:      e.customers,
		CustomerIDs:    e.customerIDs,
		Sessions:       make(map[string]*sessionState, len(e.sessions)),
		SessionIDs:     e.sessionIDs,
		SetupIntents:   e.setupIntents,
		PaymentMethods: make(map[string]*paymentMethodState, len(e.paymentMethods)),
		PMIDs:          e.pmIDs,
		PaymentIntents: e.paymentIntents,
		PIIDs:          e.piIDs,
		Charges:        e.charges,
		Refunds:        e.refunds,
		Events:         e.events,
		EventIDs:       e.eventIDs,
		Idempotency:    map[string]*idemState{},
	}
	for id, ss := range e.sessions {
		s.Sessions[id] = &sessionState{Session: ss.s, SetupFutureUsage: ss.setupFutureUsage, PIMetadata: ss.piMetadata, PIDescription: ss.piDescription, SIMetadata: ss.siMetadata}
	}
	for id, pm := range e.paymentMethods {
		s.PaymentMethods[id] = &paymentMethodState{PaymentMethod: pm.pm, DeclineCode: pm.behavior.declineCode, Needs3DS: pm.behavior.needs3DS,
			OffSessionDecline: pm.behavior.offSessionDecline, Detached: pm.detached, DeclineNext: pm.declineNext}
	}
	e.idemMu.Lock()
	for k, ent := range e.idem {
		if ent.saved {
			s.Idempotency[k] = &idemState{Method: ent.method, Path: ent.path, Fingerprint: ent.fingerprint, Created: ent.created, Status: ent.status, Body: ent.body}
		}
	}
	b, err := json.Marshal(s)
	e.idemMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("marshal emulator state: %w", err)
	}
	return b, nil
}

// unmarshalStateLocked replaces the state by a saved one. Callers hold e.mu.
func (e *Emulator) unmarshalStateLocked(b []byte) error {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("read emulator state: %w", err)
	}
	if s.Version != stateVersion {
		return fmt.Errorf("read emulator state: version %d, this emulator reads %d (start afresh to discard it)", s.Version, stateVersion)
	}
	e.customers, e.customerIDs = orEmpty(s.Customers), s.CustomerIDs
	e.sessions, e.sessionIDs = map[string]*session{}, s.SessionIDs
	for id, ss := range s.Sessions {
		if ss == nil || ss.Session == nil {
			return fmt.Errorf("read emulator state: session %s is empty", id)
		}
		e.sessions[id] = &session{s: ss.Session, setupFutureUsage: ss.SetupFutureUsage, piMetadata: ss.PIMetadata, piDescription: ss.PIDescription, siMetadata: ss.SIMetadata}
	}
	e.setupIntents = orEmpty(s.SetupIntents)
	e.paymentMethods, e.pmIDs = map[string]*paymentMethod{}, s.PMIDs
	for id, pm := range s.PaymentMethods {
		if pm == nil || pm.PaymentMethod == nil {
			return fmt.Errorf("read emulator state: payment method %s is empty", id)
		}
		e.paymentMethods[id] = &paymentMethod{pm: pm.PaymentMethod, detached: pm.Detached, declineNext: pm.DeclineNext,
			behavior: cardBehavior{declineCode: pm.DeclineCode, needs3DS: pm.Needs3DS, offSessionDecline: pm.OffSessionDecline}}
	}
	e.paymentIntents, e.piIDs = orEmpty(s.PaymentIntents), s.PIIDs
	e.charges, e.refunds = orEmpty(s.Charges), orEmpty(s.Refunds)
	e.events, e.eventIDs = orEmpty(s.Events), s.EventIDs
	e.idemMu.Lock()
	e.idem = map[string]*idemEntry{}
	for k, ent := range s.Idempotency {
		e.idem[k] = &idemEntry{method: ent.Method, path: ent.Path, fingerprint: ent.Fingerprint, created: ent.Created,
			saved: true, status: ent.Status, body: ent.Body}
	}
	e.idemMu.Unlock()
	return nil
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// Restore loads the state saved in Options.State, if any, and resumes the
// webhook deliveries it still owed. Call it once, before serving.
func (e *Emulator) Restore(ctx context.Context) error {
	if e.opts.State == nil {
		return nil
	}
	b, err := e.opts.State.Load(ctx)
	if err != nil {
		return fmt.Errorf("load emulator state: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if b != nil {
		if err := e.unmarshalStateLocked(b); err != nil {
			return err
		}
	}
	// Deliveries owed: every event not yet acknowledged, in creation order.
	for _, id := range e.eventIDs {
		if ev := e.events[id]; ev != nil && ev.PendingWebhooks > 0 {
			e.owed = append(e.owed, id)
		}
	}
	e.startDeliveriesLocked()
	return nil
}

// errStateNotSaved answers a request whose effect could not be made durable.
var errStateNotSaved = errors.New("stripeemu: state not saved")

// commitLocked makes the state durable when it may have changed (always when
// changed is true, else only if something marked it dirty), then starts the
// webhook deliveries queued since the last commit. On a failed save the
// deliveries stay queued, so no endpoint hears of an object that a restart
// would forget. Callers hold e.mu.
func (e *Emulator) commitLocked(ctx context.Context, changed bool) error {
	if e.opts.State != nil && (changed || e.dirty) {
		b, err := e.marshalStateLocked()
		if err == nil {
			err = e.opts.State.Save(ctx, b)
		}
		if err != nil {
			e.log.Error("stripeemu: save state", "err", err)
			return fmt.Errorf("%w: %w", errStateNotSaved, err)
		}
	}
	e.dirty = false
	e.startDeliveriesLocked()
	return nil
}

// commit is commitLocked for callers that do not hold e.mu.
func (e *Emulator) commit(ctx context.Context, changed bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.commitLocked(ctx, changed)
}

// startDeliveriesLocked starts one delivery goroutine per queued event.
// Callers hold e.mu, which Close also takes before Wait, so no Add races
// with Wait.
func (e *Emulator) startDeliveriesLocked() {
	owed := e.owed
	e.owed = nil
	if e.closed || e.webhookURL == "" {
		return
	}
	for _, id := range owed {
		e.wg.Add(1)
		go e.deliver(id)
	}
}

// stateSchema is the emulator's own schema in the store's database, so one
// backup holds both, while the store's migrations stay the store's.
const stateSchema = `
CREATE SCHEMA IF NOT EXISTS stripe_emulator;
CREATE TABLE IF NOT EXISTS stripe_emulator.state (
	id       boolean PRIMARY KEY DEFAULT true CHECK (id),
	body     json NOT NULL,
	saved_at timestamptz NOT NULL DEFAULT now()
)`

// PostgresState is a StateStore keeping the state in one row of
// stripe_emulator.state. One emulator per database: two processes sharing a
// database would overwrite each other's state.
type PostgresState struct {
	pool *pgxpool.Pool
}

// NewPostgresState creates the emulator's schema if missing and returns a
// StateStore on it.
func NewPostgresState(ctx context.Context, pool *pgxpool.Pool) (*PostgresState, error) {
	// CREATE ... IF NOT EXISTS is not safe against itself run concurrently;
	// the lock makes two processes starting at once take turns.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('stripe_emulator.state'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, stateSchema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create emulator schema: %w", err)
	}
	return &PostgresState{pool: pool}, nil
}

// Load implements StateStore.
func (p *PostgresState) Load(ctx context.Context) ([]byte, error) {
	var b []byte
	err := p.pool.QueryRow(ctx, `SELECT body::text FROM stripe_emulator.state WHERE id`).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load emulator state: %w", err)
	}
	return b, nil
}

// Save implements StateStore.
func (p *PostgresState) Save(ctx context.Context, state []byte) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO stripe_emulator.state (id, body) VALUES (true, $1::text::json)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body, saved_at = now()`, string(state))
	if err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	return nil
}

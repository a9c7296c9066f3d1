package billing

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// EventPageSize is how many events one page of the events list shows.
const EventPageSize = 50

// EventState is where an event of the ledger stands.
type EventState string

// Event states, in the order the events list shows them: failed ones first.
const (
	// EventFailed: tried and not applied; its last error says why.
	EventFailed EventState = "failed"
	// EventPending: stored, not tried yet (or being applied right now).
	EventPending EventState = "pending"
	EventApplied EventState = "applied"
)

// EventStates are the states the events list filters by, in its order.
var EventStates = []EventState{EventFailed, EventPending, EventApplied}

// Rank is the state's place in the list's order: higher comes first. The
// database's indexes spell the same order (migration 013).
func (s EventState) Rank() int {
	switch s {
	case EventFailed:
		return 2
	case EventPending:
		return 1
	}
	return 0
}

// State tells where the event stands.
func (e StoredEvent) State() EventState {
	switch {
	case !e.AppliedAt.IsZero():
		return EventApplied
	case e.LastError != "":
		return EventFailed
	}
	return EventPending
}

// EventQuery selects a page of the ledger: failed events first, then
// pending, then applied, each newest first; narrowed by a type and a state.
// The cursor is the last row shown: its state, when it was received, its id.
type EventQuery struct {
	Type        string
	State       EventState
	BeforeState EventState
	Before      time.Time
	BeforeID    string
	Limit       int
}

// ParseEventQuery validates the events list's filter and cursor.
func ParseEventQuery(eventType, state, beforeState, before, beforeID string) (EventQuery, error) {
	q := EventQuery{Type: eventType, State: EventState(state), Limit: EventPageSize}
	if eventType != "" && (!eventTypePattern.MatchString(eventType) || len(eventType) > 128) {
		return q, Invalid("type", "Unknown event type %q.", eventType)
	}
	if state != "" && !validEventState(q.State) {
		return q, Invalid("state", "Unknown state %q.", state)
	}
	if before == "" && beforeID == "" && beforeState == "" {
		return q, nil
	}
	t, err := time.Parse(time.RFC3339Nano, before)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 || !ValidEventID(beforeID) || !validEventState(EventState(beforeState)) {
		return q, Invalid("before", "The page link is malformed; start again from the first page.")
	}
	q.BeforeState, q.Before, q.BeforeID = EventState(beforeState), t, beforeID
	return q, nil
}

func validEventState(s EventState) bool { return slices.Contains(EventStates, s) }

// NextEventPage is the cursor after the last event of a page, as query values.
func NextEventPage(last StoredEvent) (state, before, beforeID string) {
	return string(last.State()), last.ReceivedAt.UTC().Format(time.RFC3339Nano), last.ID
}

// Events returns a page of the ledger.
func (s *Service) Events(ctx context.Context, q EventQuery) ([]StoredEvent, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = EventPageSize
	}
	list, err := s.store.ListEvents(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return list, nil
}

// EventCounts counts the ledger's failed and pending events, for one type
// or all: the few that need a look (applied ones are not counted, which
// would read the whole ledger).
func (s *Service) EventCounts(ctx context.Context, eventType string) (map[EventState]int, error) {
	counts, err := s.store.EventCounts(ctx, eventType)
	if err != nil {
		return nil, fmt.Errorf("event counts: %w", err)
	}
	return counts, nil
}

// EventTypes returns the types the ledger holds, for the list's filter.
func (s *Service) EventTypes(ctx context.Context) ([]string, error) {
	types, err := s.store.EventTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("event types: %w", err)
	}
	return types, nil
}

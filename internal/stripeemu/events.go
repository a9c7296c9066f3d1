package stripeemu

import (
	"encoding/json"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// emitLocked records an event whose data.object is a snapshot of the object as
// it is now (references as ids), and queues it for webhook delivery without
// waiting. ri is the API request that caused it (nil for the hosted page).
// Callers hold e.mu.
func (e *Emulator) emitLocked(ri *reqInfo, typ, kind, id string, prev map[string]any) {
	obj, err := e.renderLocked(kind, id, nil)
	if err != nil {
		e.log.Error("stripeemu: event snapshot failed", "type", typ, "object", id, "err", err)
		return
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		e.log.Error("stripeemu: event snapshot failed", "type", typ, "object", id, "err", err)
		return
	}
	ev := &stripe.Event{
		ID:         newID("evt_"),
		Object:     "event",
		APIVersion: apiVersion(),
		Created:    e.now().Unix(),
		Data:       &stripe.EventData{Raw: raw, PreviousAttributes: prev},
		Livemode:   false,
		Type:       stripe.EventType(typ),
		Request:    &stripe.EventRequest{},
	}
	if ri != nil {
		ev.Request.ID, ev.Request.IdempotencyKey = ri.id, ri.idempotencyKey
	}
	deliver := e.webhookURL != "" && !e.closed
	if deliver {
		ev.PendingWebhooks = 1
	}
	e.events[ev.ID] = ev
	e.eventIDs = append(e.eventIDs, ev.ID)
	e.dirty = true
	e.log.Debug("stripeemu: event", "id", ev.ID, "type", typ, "object", id)
	if deliver {
		// Delivered from the next commit on, once the event is durable.
		e.owed = append(e.owed, ev.ID)
	}
}

func (e *Emulator) getEvent(c *call) (any, error) {
	id := c.r.PathValue("id")
	if _, err := expandFor(c, kindEvent); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.events[id] == nil {
		return nil, notFound(kindEvent, id)
	}
	return e.renderResponse(kindEvent, id, nil)
}

func (e *Emulator) listEvents(c *call) (any, error) {
	q, err := parseListQuery(c.p, kindEvent)
	if err != nil {
		return nil, err
	}
	created, err := parseCreated(c.p)
	if err != nil {
		return nil, err
	}
	typ, hasType, err := c.p.str("type")
	if err != nil {
		return nil, err
	}
	types, err := c.p.strList("types")
	if err != nil {
		return nil, err
	}
	if hasType && len(types) > 0 {
		return nil, invalidRequest("You may only specify one of these parameters: type, types.")
	}
	if len(types) > 20 {
		return nil, invalidParam("types", "You may filter on at most 20 event types.")
	}
	if hasType {
		types = []string{typ}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listLocked(q, "/v1/events", kindEvent, e.eventIDs, func(id string) bool {
		ev := e.events[id]
		if !created.match(ev.Created) {
			return false
		}
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if eventTypeMatches(t, string(ev.Type)) {
				return true
			}
		}
		return false
	})
}

// eventTypeMatches supports Stripe's "*" wildcard, e.g. "payment_intent.*".
func eventTypeMatches(pattern, typ string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}

package stripeemu

import (
	"encoding/json"
	"slices"
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
	deliver := e.webhookURL != "" && !e.closed && (e.opts.EnabledEvents == nil || slices.Contains(e.opts.EnabledEvents, typ))
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

func (e *Emulator) listEvents(c *call) (any, error) {
	q := parseListQuery(c.p, kindEvent)
	created := parseCreated(c.p)
	types := c.p.strs("types")
	c.p.check(len(types) > 20, invalidParam("types", "You may filter on at most 20 event types."))
	if err := c.p.err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listLocked(q, "/v1/events", kindEvent, e.eventIDs, func(id string) bool {
		ev := e.events[id]
		return created.match(ev.Created) && (len(types) == 0 || slices.ContainsFunc(types, func(t string) bool {
			return eventTypeMatches(t, string(ev.Type))
		}))
	})
}

// eventTypeMatches supports Stripe's "*" wildcard, e.g. "payment_intent.*".
func eventTypeMatches(pattern, typ string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}

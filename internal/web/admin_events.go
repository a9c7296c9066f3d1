package web

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/storefront/storefront/internal/billing"
)

type eventsPage struct {
	Events  []billing.StoredEvent
	Types   []string
	Type    string
	State   string
	States  []billing.EventState
	Failed  int
	Pending int
	// Here is this page's URL, where a replay comes back to.
	Here string
	Next string
}

// adminEvents lists the webhook event ledger, failed events first, then
// pending, then applied, each newest first; by type and state, a keyset page
// at a time, each event with the replay button.
func (s *Server) adminEvents(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q, err := billing.ParseEventQuery(v.Get("type"), v.Get("state"), v.Get("before_state"), v.Get("before"), v.Get("before_id"))
	if err != nil {
		return err
	}
	// Independent reads, asked at once (as the admin list does).
	var (
		list   []billing.StoredEvent
		types  []string
		counts map[billing.EventState]int
	)
	g, ctx := errgroup.WithContext(r.Context())
	g.Go(func() (err error) { list, err = s.svc.Events(ctx, q); return err })
	g.Go(func() (err error) { types, err = s.svc.EventTypes(ctx); return err })
	g.Go(func() (err error) { counts, err = s.svc.EventCounts(ctx, q.Type); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	p := eventsPage{Events: list, Types: types, Type: q.Type, State: string(q.State), States: billing.EventStates,
		Failed: counts[billing.EventFailed], Pending: counts[billing.EventPending], Here: r.URL.RequestURI()}
	if len(list) == q.Limit {
		state, before, beforeID := billing.NextEventPage(list[len(list)-1])
		p.Next = pageURL("/admin/events", "type", q.Type, "state", string(q.State), "before_state", state, "before", before, "before_id", beforeID)
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_events", p)
}

// eventsURL is the events list for a type and state.
func eventsURL(eventType, state string) string {
	return pageURL("/admin/events", "type", eventType, "state", state)
}

// eventsBack is where a replay from the events list returns: the list it
// came from (a path under /admin/events, never another site).
func eventsBack(back string) (string, bool) {
	u, err := url.Parse(back)
	if back == "" || err != nil || u.Scheme != "" || u.Host != "" || u.Path != "/admin/events" || strings.HasPrefix(back, "//") {
		return "", false
	}
	return u.RequestURI(), true
}

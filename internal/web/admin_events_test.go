package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

var eventRowPattern = regexp.MustCompile(`<tr data-event="(evt_[A-Za-z0-9_]+)" data-state="([a-z]+)">`)

type listedEvent struct{ id, state string }

// eventPages walks the events list from query.
func (h *harness) eventPages(query string) ([]listedEvent, response) {
	h.t.Helper()
	rows, first := h.listPages("/admin/events"+query, eventRowPattern)
	list := make([]listedEvent, len(rows))
	for i, m := range rows {
		list[i] = listedEvent{m[0], m[1]}
	}
	return list, first
}

// seedEvents writes n events of the given type and state into the ledger,
// received one a minute back from now.
func (h *harness) seedEvents(prefix, eventType string, state billing.EventState, n int) {
	h.t.Helper()
	_, err := h.db.Pool().Exec(context.Background(), `
		INSERT INTO stripe_events (id, type, object_id, created_at, received_at, applied_at, attempts, last_error, payload)
		SELECT 'evt_' || $1 || i, $2, 'pi_' || $1 || i, now() - (i || ' minutes')::interval, now() - (i || ' minutes')::interval,
		       CASE WHEN $3 = 'applied' THEN now() END, CASE WHEN $3 = 'pending' THEN 0 ELSE 1 END,
		       CASE WHEN $3 = 'failed' THEN 'stripe unavailable' END, '{}'
		FROM generate_series(1, $4::int) i`, prefix, eventType, string(state), n)
	if err != nil {
		h.t.Fatal(err)
	}
}

// TestEventLedgerList: the events list shows the ledger failed events
// first, then pending, then applied, each newest first, over keyset pages
// that miss and repeat nothing; it filters by type and state; a failed
// event replayed from it is applied, audited, and the list says so.
func TestEventLedgerList(t *testing.T) {
	h := newHarness(t)
	h.savedCard("ledger@example.com", "4242424242424242")
	completed := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
	h.stripeDown.Store(true)
	if res := h.deliver(completed); res.status != http.StatusInternalServerError {
		t.Fatalf("delivery with Stripe down: %d", res.status)
	}
	h.stripeDown.Store(false)
	h.seedEvents("applied", "payment_intent.succeeded", billing.EventApplied, 70)
	h.seedEvents("failed", "payment_intent.payment_failed", billing.EventFailed, 30)
	h.seedEvents("pending", "charge.refunded", billing.EventPending, 5)

	all, page := h.eventPages("")
	if len(all) != 106 {
		t.Fatalf("%d events listed, want 106", len(all))
	}
	if all[0].id != completed.ID || all[0].state != "failed" {
		t.Errorf("first %+v, want the newest failed event %s", all[0], completed.ID)
	}
	rank := map[string]int{"failed": 2, "pending": 1, "applied": 0}
	seen := map[string]bool{}
	for i, e := range all {
		if seen[e.id] {
			t.Errorf("%s listed twice", e.id)
		}
		seen[e.id] = true
		if i > 0 && rank[all[i-1].state] < rank[e.state] {
			t.Errorf("%s (%s) after %s (%s): failed events come first", e.id, e.state, all[i-1].id, all[i-1].state)
		}
	}
	if !strings.Contains(page.body, "<strong>31</strong> failed") || !strings.Contains(page.body, "<strong>5</strong> pending") {
		t.Errorf("the counts are missing")
	}
	for _, typ := range []string{"charge.refunded", "checkout.session.completed", "payment_intent.payment_failed", "payment_intent.succeeded"} {
		if !strings.Contains(page.body, `<option value="`+typ+`"`) {
			t.Errorf("the type filter lacks %s", typ)
		}
	}

	for name, tc := range map[string]struct {
		query string
		n     int
		check func(listedEvent) bool
	}{
		"failed":               {"?state=failed", 31, func(e listedEvent) bool { return e.state == "failed" }},
		"applied":              {"?state=applied", 70, func(e listedEvent) bool { return e.state == "applied" }},
		"one type":             {"?type=charge.refunded", 5, func(e listedEvent) bool { return strings.HasPrefix(e.id, "evt_pending") }},
		"type and state":       {"?type=payment_intent.succeeded&state=failed", 0, nil},
		"type of failed event": {"?type=checkout.session.completed", 1, func(e listedEvent) bool { return e.id == completed.ID }},
	} {
		t.Run(name, func(t *testing.T) {
			list, _ := h.eventPages(tc.query)
			if len(list) != tc.n {
				t.Errorf("%d events, want %d", len(list), tc.n)
			}
			for _, e := range list {
				if !tc.check(e) {
					t.Errorf("%+v does not match the filter", e)
				}
			}
		})
	}

	// Replay from the failed events' page: confirmed, then back to it, with a message.
	staff := h.newStaffBrowser()
	form := url.Values{"back": {"/admin/events?state=failed"}}
	staff.ask("/admin/events/"+completed.ID+"/replay", form, "Apply the checkout.session.completed event "+completed.ID+" again?")
	after := staff.confirm("/admin/events/"+completed.ID+"/replay", form, "The checkout.session.completed event "+completed.ID+" was applied again.")
	if !strings.Contains(after.body, `<select id="state" name="state">`) {
		t.Errorf("the replay did not come back to the events list")
	}
	if list, _ := h.eventPages("?state=failed"); slices.ContainsFunc(list, func(e listedEvent) bool { return e.id == completed.ID }) {
		t.Errorf("the replayed event is still failed")
	}
	if e := h.ledger(completed.ID); e.AppliedAt.IsZero() {
		t.Errorf("the replayed event is not applied")
	}
	if !slices.Contains(h.auditActors(), "admin "+billing.ActionEventReplay) {
		t.Errorf("the replay is not in the audit log")
	}
	// Nowhere else: a return address off the events list goes to the admin list.
	for _, evil := range []string{"https://evil.example/admin/events", "//evil.example/admin/events", "/admin/customers/1"} {
		res := h.adminPost("/admin/events/"+completed.ID+"/replay", url.Values{"back": {evil}})
		if res.status != http.StatusSeeOther || res.location != "/admin" {
			t.Errorf("back %q: %d %q", evil, res.status, res.location)
		}
	}
}

func TestEventListRefusesBadInput(t *testing.T) {
	h := newHarness(t)
	for _, query := range []string{"?state=broken", "?type=not%20a%20type", "?before_id=evt_1",
		"?before_state=failed&before=" + url.QueryEscape(time.Now().Format(time.RFC3339Nano)) + "&before_id=nope"} {
		if res := h.admin("/admin/events"+query, "admin", adminPassword); res.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", query, res.status)
		}
	}
}

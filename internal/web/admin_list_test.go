package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAdminListSearchFiltersAndTotals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	visa := h.recordedCard("ann@example.com", "4242424242424242")
	master := h.recordedCard("bob@shop.example", "5555555555554444")
	failing := h.recordedCard("cy@example.com", "4000000000000341")
	h.chargeCard(failing.ID, "10", "usd")
	// A card expiring next month, and one detached.
	soon := time.Now().AddDate(0, 1, 0)
	if _, err := h.db.Pool().Exec(ctx, `UPDATE payment_methods SET exp_month = $2, exp_year = $3 WHERE id = $1`, master.ID, int(soon.Month()), soon.Year()); err != nil {
		t.Fatal(err)
	}
	detach := h.adminPost("/admin/customers/"+strconv.FormatInt(visa.CustomerID, 10)+"/detach", url.Values{"payment_method": {visa.ID}})
	if detach.status != http.StatusSeeOther {
		t.Fatalf("detach: %d %s", detach.status, detach.body)
	}

	cases := map[string]struct {
		query   string
		want    []string
		notWant []string
	}{
		"all":         {"", []string{visa.ID, master.ID, failing.ID}, nil},
		"last 4":      {"?q=4444", []string{master.ID}, []string{visa.ID, failing.ID}},
		"email start": {"?q=BOB%40sh", []string{master.ID}, []string{visa.ID, failing.ID}},
		"no match":    {"?q=zed", nil, []string{visa.ID, master.ID, failing.ID}},
		"like chars":  {"?q=%25", nil, []string{visa.ID, master.ID, failing.ID}},
		"expiring":    {"?filter=expiring", []string{master.ID}, []string{visa.ID, failing.ID}},
		"detached":    {"?filter=detached", []string{visa.ID}, []string{master.ID, failing.ID}},
		"failing":     {"?filter=failing", []string{failing.ID}, []string{visa.ID, master.ID}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := h.admin("/admin"+tc.query, "admin", adminPassword)
			if res.status != http.StatusOK {
				t.Fatalf("status %d", res.status)
			}
			for _, id := range tc.want {
				if !strings.Contains(res.body, `data-payment-method="`+id+`"`) {
					t.Errorf("missing %s", id)
				}
			}
			for _, id := range tc.notWant {
				if strings.Contains(res.body, `data-payment-method="`+id+`"`) {
					t.Errorf("unexpected %s", id)
				}
			}
		})
	}
	res := h.admin("/admin", "admin", adminPassword)
	for _, want := range []string{"<strong>2</strong> active cards", "<strong>3</strong> customers", "<strong>1</strong> expiring", "<strong>1</strong> detached", "<strong>1</strong> failing"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("totals lack %q", want)
		}
	}
	if bad := h.admin("/admin?filter=everything", "admin", adminPassword); bad.status != http.StatusBadRequest {
		t.Errorf("unknown filter: %d", bad.status)
	}
}

// TestAdminShowsAStalledWebhook: a fresh store says calmly that no event
// has come yet; once cards are saved and still none has, it warns; then it
// says how long ago the last one came.
func TestAdminShowsAStalledWebhook(t *testing.T) {
	h := newHarness(t)
	if res := h.admin("/admin", "admin", adminPassword); !strings.Contains(res.body, "No webhook events yet: they arrive once a customer saves a card.") || strings.Contains(res.body, `class="warn"`) {
		t.Error("a fresh store does not say calmly that no event came yet")
	}
	h.recordedCard("pulse@example.com", "4242424242424242") // the harness's Stripe delivers no webhook
	if res := h.admin("/admin", "admin", adminPassword); !strings.Contains(res.body, `<span class="warn">No webhook event received yet`) {
		t.Error("a store with saved cards and no event does not warn")
	}
	payload := eventJSON("evt_pulse1", "invoice.paid")
	h.postWebhook(payload, signed(payload, webhookSecret, time.Now()))
	if _, err := h.db.Pool().Exec(context.Background(), `UPDATE stripe_events SET received_at = now() - interval '3 hours'`); err != nil {
		t.Fatal(err)
	}
	if res := h.admin("/admin", "admin", adminPassword); !strings.Contains(res.body, "3 hours ago</time>") {
		t.Error("the time since the last event is not shown")
	}
}

func TestCustomerPageActions(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := h.recordedCard("dee@example.com", "4242424242424242")
	second := h.recordedCard("dee@example.com", "5555555555554444")
	page := "/admin/customers/" + strconv.FormatInt(first.CustomerID, 10)
	if c, _ := h.db.Customer(ctx, first.CustomerID); c.DefaultPaymentMethodID != first.ID {
		t.Errorf("default after two saves: %q, want the first card %s", c.DefaultPaymentMethodID, first.ID)
	}

	if res := h.adminPost(page+"/default", url.Values{"payment_method": {second.ID}}); res.status != http.StatusSeeOther {
		t.Fatalf("make default: %d %s", res.status, res.body)
	}
	c, _ := h.db.Customer(ctx, first.CustomerID)
	if c.DefaultPaymentMethodID != second.ID {
		t.Errorf("default %q, want %s", c.DefaultPaymentMethodID, second.ID)
	}
	for _, e := range h.stripeEvents() {
		h.deliver(e)
	}
	res := h.admin(page, "admin", adminPassword)
	if !strings.Contains(res.body, "default</span>") || !strings.Contains(res.body, "checkout.session.completed") {
		t.Errorf("customer page lacks the default badge or the events:\n%s", res.body)
	}

	if res := h.adminPost(page+"/detach", url.Values{"payment_method": {second.ID}}); res.status != http.StatusSeeOther {
		t.Fatalf("detach the default: %d", res.status)
	}
	if c, _ := h.db.Customer(ctx, first.CustomerID); c.DefaultPaymentMethodID != "" {
		t.Errorf("a detached card is still the default")
	}
	if res := h.adminPost(page+"/detach", url.Values{"payment_method": {first.ID}}); res.status != http.StatusSeeOther {
		t.Fatalf("detach: %d", res.status)
	}
	if pm, _ := h.db.SavedPaymentMethod(ctx, first.ID); pm.Status != "detached" {
		t.Errorf("after detach: %s", pm.Status)
	}
	if remote := h.stripePaymentMethod(first.ID); remote.Customer != nil {
		t.Errorf("still attached on Stripe to %s", remote.Customer.ID)
	}

	other := h.recordedCard("eve@example.com", "4242424242424242")
	if res := h.adminPost(page+"/default", url.Values{"payment_method": {other.ID}}); res.status != http.StatusBadRequest {
		t.Errorf("making another customer's card the default: %d, want 400", res.status)
	}
	if res := h.admin("/admin/customers/999999", "admin", adminPassword); res.status != http.StatusNotFound {
		t.Errorf("unknown customer: %d", res.status)
	}
	if res := h.admin("/admin/customers/abc", "admin", adminPassword); res.status != http.StatusNotFound {
		t.Errorf("malformed customer id: %d", res.status)
	}
}

func TestReplayButton(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("rp@example.com", "4242424242424242")
	completed := eventOfType(t, h.stripeEvents(), "checkout.session.completed")
	h.deliver(completed)
	res := h.adminPost("/admin/events/"+completed.ID+"/replay", url.Values{"customer": {strconv.FormatInt(pm.CustomerID, 10)}})
	if res.status != http.StatusSeeOther || res.location != "/admin/customers/"+strconv.FormatInt(pm.CustomerID, 10) {
		t.Errorf("replay: %d to %q", res.status, res.location)
	}
	if res := h.adminPost("/admin/events/not-an-event/replay", nil); res.status != http.StatusNotFound {
		t.Errorf("replay of a malformed id: %d", res.status)
	}
}

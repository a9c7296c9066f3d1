package web_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestBadEmailRerendersTheFormWithoutCallingStripe(t *testing.T) {
	h := newHarness(t)
	for name, email := range map[string]string{
		"missing":      "",
		"no at":        "ann.example.com",
		"display name": "Ann <ann@example.com>",
		"too long":     strings.Repeat("a", 260) + "@example.com",
	} {
		t.Run(name, func(t *testing.T) {
			before := h.snapshot()
			res := h.saveCard(email)
			if res.status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", res.status)
			}
			if !strings.Contains(res.body, `class="error"`) || !strings.Contains(res.body, `name="email"`) {
				t.Errorf("the form with a message was not shown: %s", res.body)
			}
			if email != "" && len(email) < 100 && !strings.Contains(res.body, strings.ReplaceAll(strings.ReplaceAll(email, "<", "&lt;"), ">", "&gt;")) {
				t.Errorf("the typed email was not kept in the form")
			}
			if n := h.gateway.TotalCalls(); n != 0 {
				t.Errorf("%d Stripe calls, want 0", n)
			}
			if after := h.snapshot(); after != before {
				t.Errorf("database changed:\n%s\n->\n%s", before, after)
			}
		})
	}
}

func TestSuccessWithBadSessionIDIs404AndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.startSession("gil@example.com") // something in the database to keep unchanged
	calls := h.gateway.TotalCalls()
	for name, query := range map[string]string{
		"missing":    "",
		"empty":      "?session_id=",
		"malformed":  "?session_id=abc%27%3B--",
		"wrong type": "?session_id=pi_123",
		"unknown":    "?session_id=cs_test_notOurs123",
	} {
		t.Run(name, func(t *testing.T) {
			before := h.snapshot()
			res := h.get("/success" + query)
			if res.status != http.StatusNotFound || !strings.Contains(res.body, "Not found") {
				t.Errorf("status %d, want the 404 page", res.status)
			}
			if after := h.snapshot(); after != before {
				t.Errorf("database changed")
			}
		})
	}
	if n := h.gateway.TotalCalls() - calls; n != 0 {
		t.Errorf("%d Stripe calls for bad ids, want 0", n)
	}
}

func TestSuccessBeforeCompletionShowsProcessingAndRecordsNothing(t *testing.T) {
	h := newHarness(t)
	id := h.startSession("hal@example.com")
	before := h.snapshot()
	res := h.get("/success?session_id=" + id)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Still processing") {
		t.Errorf("status %d, body %s; want the still-processing page", res.status, res.body)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("database changed:\n%s\n->\n%s", before, after)
	}
}

func TestStripeErrorShowsAFriendlyPageAndWritesNothing(t *testing.T) {
	h := newHarness(t)
	h.stripeDown.Store(true)
	before := h.snapshot()
	res := h.saveCard("ivy@example.com")
	if res.status != http.StatusBadGateway || !strings.Contains(res.body, "Payment provider unavailable") {
		t.Errorf("status %d, want the 502 page", res.status)
	}
	if strings.Contains(res.body, "api_error") || strings.Contains(res.body, "unknown error occurred") {
		t.Errorf("the page leaks Stripe's internals: %s", res.body)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("half-written state left:\n%s", after)
	}
}

func TestStripeErrorOnSuccessPageWritesNothing(t *testing.T) {
	h := newHarness(t)
	id := h.startSession("jo@example.com")
	h.completeWith(id, "4242424242424242", "jo@example.com")
	h.stripeDown.Store(true)
	before := h.snapshot()
	if res := h.get("/success?session_id=" + id); res.status != http.StatusBadGateway {
		t.Errorf("status %d, want 502", res.status)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("database changed:\n%s", after)
	}
	// Once Stripe is back, the same link records the card.
	h.stripeDown.Store(false)
	if res := h.get("/success?session_id=" + id); res.status != http.StatusOK || !strings.Contains(res.body, "4242") {
		t.Errorf("after recovery: %d", res.status)
	}
}

func TestAdminNeedsTheRightCredentials(t *testing.T) {
	h := newHarness(t)
	cases := map[string]struct {
		user, password string
		want           int
	}{
		"none":           {"", "", http.StatusUnauthorized},
		"wrong password": {"admin", "guess", http.StatusUnauthorized},
		"wrong user":     {"root", adminPassword, http.StatusUnauthorized},
		"right":          {"admin", adminPassword, http.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if res := h.admin("/admin", tc.user, tc.password); res.status != tc.want {
				t.Errorf("status %d, want %d", res.status, tc.want)
			}
		})
	}
}

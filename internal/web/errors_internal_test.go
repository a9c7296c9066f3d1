package web

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/storefront/storefront/internal/billing"
)

// TestStripeErrorsAreNeverNotFound: Stripe's resource_missing matches
// billing.ErrNotFound for the flows, but a person is told it was the
// payment provider, not that our page is missing.
func TestStripeErrorsAreNeverNotFound(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("start setup: %w", &billing.GatewayError{Op: "checkout.sessions.create", HTTPStatus: 400, Code: "resource_missing", Param: "customer", RequestID: "req_1"}),
		fmt.Errorf("session cs_test_1: %w", &billing.GatewayError{Op: "checkout.sessions.retrieve", HTTPStatus: 404, Code: "resource_missing"}),
	} {
		status, page := classify(err)
		if status != http.StatusBadGateway || page.Title == "Not found" {
			t.Errorf("%v: %d %q, want 502 and not Not found", err, status, page.Title)
		}
	}
	if status, _ := classify(fmt.Errorf("session: %w", billing.ErrNotFound)); status != http.StatusNotFound {
		t.Errorf("our own not-found: %d, want 404", status)
	}
}

package billing

import (
	"testing"
	"time"
)

func TestMirrorCovers(t *testing.T) {
	created := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	inside := created.Add(eventClockMargin)                   // could still precede the change
	after := created.Add(eventClockMargin + time.Millisecond) // surely after it
	cases := []struct {
		name  string
		typ   string
		m     Mirror
		cover bool
	}{
		{"session complete", EventCheckoutSessionCompleted, Mirror{Status: SessionComplete}, true},
		{"session open", EventCheckoutSessionCompleted, Mirror{Status: SessionOpen}, false},
		{"intent succeeded, read before", EventSetupIntentSucceeded, Mirror{Status: SetupIntentSucceeded, SyncedAt: created.Add(-time.Hour)}, true},
		{"failure of an intent since succeeded", EventSetupIntentSetupFailed, Mirror{Status: SetupIntentSucceeded}, true},
		{"intent failing, read inside the margin", EventSetupIntentSetupFailed, Mirror{Status: "requires_payment_method", SyncedAt: inside}, false},
		{"intent failing, read after", EventSetupIntentSetupFailed, Mirror{Status: "requires_payment_method", SyncedAt: after}, true},
		{"card attached", EventPaymentMethodAttached, Mirror{Status: PaymentMethodActive}, true},
		{"card detached, attach event", EventPaymentMethodAttached, Mirror{Status: PaymentMethodDetached, SyncedAt: after}, false},
		{"card detached", EventPaymentMethodDetached, Mirror{Status: PaymentMethodDetached}, true},
		{"card attached, detach event", EventPaymentMethodDetached, Mirror{Status: PaymentMethodActive, SyncedAt: after}, false},
		{"update, read inside the margin", EventPaymentMethodUpdated, Mirror{Status: PaymentMethodActive, SyncedAt: inside}, false},
		{"update, read after", EventPaymentMethodUpdated, Mirror{Status: PaymentMethodActive, SyncedAt: after}, true},
		{"automatic update, read after", EventPaymentMethodAutomaticallyUpdated, Mirror{Status: PaymentMethodActive, SyncedAt: after}, true},
		// A card detached from the admin keeps the details we held, not Stripe's.
		{"update of a detached card", EventPaymentMethodUpdated, Mirror{Status: PaymentMethodDetached, SyncedAt: after}, false},
		{"payment intent recorded succeeded", EventPaymentIntentSucceeded, Mirror{Status: ChargeSucceeded}, true},
		{"payment intent still processing", EventPaymentIntentSucceeded, Mirror{Status: ChargeProcessing, SyncedAt: after}, false},
		{"payment intent recorded declined", EventPaymentIntentSucceeded, Mirror{Status: ChargeDeclined, SyncedAt: after}, false},
		{"failure of a payment intent", EventPaymentIntentPaymentFailed, Mirror{Status: ChargeDeclined, SyncedAt: after}, false},
	}
	for _, c := range cases {
		if got := mirrorCovers(Event{Type: c.typ, Created: created}, c.m); got != c.cover {
			t.Errorf("%s: covers = %v, want %v", c.name, got, c.cover)
		}
	}
}

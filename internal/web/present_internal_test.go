package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

func TestRelativeTimes(t *testing.T) {
	now := time.Date(2026, 11, 3, 14, 5, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		10 * time.Second:            "just now",
		-10 * time.Second:           "just now",
		time.Minute:                 "1 minute ago",
		3*time.Minute + time.Second: "3 minutes ago",
		2 * time.Hour:               "2 hours ago",
		-3 * time.Hour:              "in 3 hours",
		26 * time.Hour:              "1 day ago",
		-4 * 24 * time.Hour:         "in 4 days",
		40 * 24 * time.Hour:         "24 Sep 2026",
	} {
		if got := relative(now.Add(-d), now); got != want {
			t.Errorf("%v before: %q, want %q", d, got, want)
		}
	}
	if got := at(time.Time{}); got != "-" {
		t.Errorf("zero time: %q", got)
	}
}

func TestStatusLabels(t *testing.T) {
	for status, want := range map[any]string{
		billing.ChargeAuthenticationRequired: "needs authentication",
		billing.ChargeDeclined:               "declined",
		shop.PaymentFailed:                   "payment failed",
		shop.PartiallyRefunded:               "partially refunded",
		shop.AwaitingCard:                    "awaiting card",
		billing.NotificationNoRecipient:      "no email address",
	} {
		if got := label(status); got != want {
			t.Errorf("label(%v) = %q, want %q", status, got, want)
		}
	}
}

// TestFlashExpires: a message signed by the store but past its minute is
// not shown, nor one signed under another key.
func TestFlashExpires(t *testing.T) {
	s := &Server{flashKey: []byte("a key of this test")}
	old := "1." + "i." + "T2xk" // expired in 1970
	req := httptest.NewRequest(http.MethodGet, "/admin", nil)
	req.AddCookie(&http.Cookie{Name: flashCookie, Value: old + "." + s.flashMAC(old)})
	if f := s.takeFlash(httptest.NewRecorder(), req); f != nil {
		t.Errorf("an expired message is shown: %+v", f)
	}
	w := httptest.NewRecorder()
	s.setFlash(w, warning("Declined."))
	fresh := w.Result().Cookies()[0]
	req = httptest.NewRequest(http.MethodGet, "/admin", nil)
	req.AddCookie(fresh)
	if f := s.takeFlash(httptest.NewRecorder(), req); f == nil || f.Text != "Declined." || !f.Warn {
		t.Errorf("a fresh message reads %+v", f)
	}
	other := &Server{flashKey: []byte("another key")}
	if f := other.takeFlash(httptest.NewRecorder(), req); f != nil {
		t.Errorf("a message signed under another key is shown: %+v", f)
	}
}

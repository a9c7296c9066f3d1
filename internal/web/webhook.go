package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/storefront/storefront/internal/billing"
)

// MaxWebhookBytes bounds a webhook body. Stripe's events for the objects this
// store handles are a few kilobytes; 256 KiB leaves room for large metadata
// while keeping a flood of big bodies cheap to refuse.
const MaxWebhookBytes = 256 << 10

// webhook receives Stripe's events: the raw body is read once, its signature
// verified, and only then is it looked at.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "webhook body too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "webhook body unreadable", http.StatusBadRequest)
		return
	}
	event, err := s.webhooks.Verify(body, r.Header.Get("Stripe-Signature"))
	if err != nil {
		s.log.Warn("webhook refused", "err", err, logAttrs(r))
		http.Error(w, "webhook signature or body invalid", http.StatusBadRequest)
		return
	}
	err = s.svc.ReceiveEvent(r.Context(), event)
	if err == nil {
		// Orders follow what billing recorded; a failure here is retried by
		// Stripe like any other, and the event, applied already, costs nothing then.
		err = s.shop.Follow(r.Context(), event)
	}
	if err != nil {
		// Either way Stripe retries; 503 says the event was not even stored.
		status := http.StatusInternalServerError
		if errors.Is(err, billing.ErrNotDurable) {
			status = http.StatusServiceUnavailable
		}
		s.log.Error("webhook event failed", "event_id", event.ID, "type", event.Type, "status", status, "err", err, logAttrs(r))
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.log.Info("webhook event", "event_id", event.ID, "type", event.Type, logAttrs(r))
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"received":true}`)) //nolint:errcheck
}

package web

import (
	"net/http"

	"github.com/storefront/storefront/internal/billing"
)

type outboxPage struct {
	Notifications []billing.Notification
}

// adminOutbox lists the messages to customers and where each stands.
func (s *Server) adminOutbox(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Notifications(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_outbox", outboxPage{Notifications: list})
}

// adminOutboxSend sends a failed message again (audited) and returns to the outbox.
func (s *Server) adminOutboxSend(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := s.svc.ResendNotification(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/outbox", http.StatusSeeOther)
	return nil
}

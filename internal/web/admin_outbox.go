package web

import (
	"net/http"
	"strconv"

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

// adminOutboxSend sends a failed message again (audited), once confirmed,
// and returns to the outbox.
func (s *Server) adminOutboxSend(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	n, err := s.svc.Notification(r.Context(), id)
	if err != nil {
		return err
	}
	to := customerName(n.Recipient)
	if !confirmed(r) {
		if n.Status() != billing.NotificationFailed {
			return billing.Invalid("notification", "This message is %s: there is nothing to send again.", label(n.Status()))
		}
		return s.askToConfirm(w, r, confirmPage{Title: "Send a message again",
			Question: "Send “" + n.Subject + "” to " + to + " again?",
			Note:     "It is emailed by a background job, and tried again for three days if the mail server refuses it.",
			Action:   "/admin/outbox/" + strconv.FormatInt(id, 10) + "/send", Button: "Send it again",
			Back: "/admin/outbox", BackLabel: "Back to the outbox"})
	}
	if err := s.svc.ResendNotification(r.Context(), id); err != nil {
		return err
	}
	return s.done(w, r, "/admin/outbox", said("“"+n.Subject+"” to "+to+" is queued to be sent again."))
}

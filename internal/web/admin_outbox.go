package web

import (
	"net/http"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/storefront/storefront/internal/billing"
)

type outboxPage struct {
	Notifications []billing.Notification
	// FailedOnly: the page lists the failed messages only; Failed counts them all.
	FailedOnly bool
	Failed     int
	// Next is the next page's URL, "" on the last.
	Next string
}

// adminOutbox lists the messages to customers and where each stands,
// newest first, a keyset page at a time; all of them or the failed ones.
func (s *Server) adminOutbox(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q, err := billing.ParseOutboxQuery(v.Get("status"), v.Get("before"), v.Get("before_id"))
	if err != nil {
		return err
	}
	var p outboxPage
	g, ctx := errgroup.WithContext(r.Context())
	g.Go(func() (err error) { p.Notifications, err = s.svc.Notifications(ctx, q); return err })
	g.Go(func() (err error) { p.Failed, err = s.svc.FailedNotifications(ctx); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	p.FailedOnly = q.FailedOnly
	if len(p.Notifications) == q.Limit {
		before, beforeID := billing.NextOutboxPage(p.Notifications[len(p.Notifications)-1])
		p.Next = pageURL("/admin/outbox", "status", v.Get("status"), "before", before, "before_id", beforeID)
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_outbox", p)
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

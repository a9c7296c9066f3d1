package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// mailbox is a Mailer that keeps what it is given, or fails on purpose.
type mailbox struct {
	mu   sync.Mutex
	sent []string
	fail error
}

func (m *mailbox) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, to+"|"+subject+"|"+body)
	return nil
}

func TestOutboxIsSentOnceAndKeptOnFailure(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, email := range []string{"o1@example.com", "o2@example.com", "o3@example.com"} {
		h.chargeCard(h.recordedCard(email, "4000000000000341").ID, "10", "usd")
	}

	down := &mailbox{fail: errors.New("421 try later")}
	if sent, err := h.svc.DeliverNotifications(ctx, down); err != nil || sent != 0 {
		t.Fatalf("with the mail server down: sent %d, %v", sent, err)
	}
	if n := h.notifications(); n[len(n)-1].LastError == "" || !n[len(n)-1].SentAt.IsZero() {
		t.Errorf("a failed send is not recorded: %+v", n[len(n)-1])
	}

	box := &mailbox{}
	var wg sync.WaitGroup
	for range 3 { // three replicas at once
		wg.Go(func() {
			if _, err := h.svc.DeliverNotifications(ctx, box); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(box.sent) != 3 {
		t.Fatalf("%d emails sent for 3 notifications: %v", len(box.sent), box.sent)
	}
	for _, m := range box.sent {
		if !strings.Contains(m, "/pay/") || !strings.Contains(m, "USD 10.00") {
			t.Errorf("email lacks the link or the amount: %s", m)
		}
	}
	if sent, _ := h.svc.DeliverNotifications(ctx, box); sent != 0 {
		t.Errorf("a second round sent %d again", sent)
	}
	for _, n := range h.notifications() {
		if n.SentAt.IsZero() {
			t.Errorf("notification %d not marked sent", n.ID)
		}
	}
	if res := h.admin("/admin/outbox", "admin", adminPassword); res.status != http.StatusOK || strings.Count(res.body, "payment link") != 3 {
		t.Errorf("outbox page: %d", res.status)
	}
}

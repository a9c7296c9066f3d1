package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
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

// connectionCounter is a Mailer that notes how many pool connections are
// held while it sends: none, or a slow mail server starves the store.
type connectionCounter struct {
	mailbox
	held func() int32
	max  int32
}

func (c *connectionCounter) Send(ctx context.Context, to, subject, body string) error {
	if n := c.held(); n > c.max {
		c.max = n
	}
	return c.mailbox.Send(ctx, to, subject, body)
}

// TestOutboxLeaseOutlivesACrashedSender: a sender that claimed a message and
// died never sent it; another replica skips it while the lease runs, sends
// it once the lease is over, and no connection is held during a send.
func TestOutboxLeaseOutlivesACrashedSender(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, email := range []string{"l1@example.com", "l2@example.com"} {
		h.chargeCard(h.recordedCard(email, "4000000000000341").ID, "10", "usd")
	}
	crashed, ok, err := h.db.ClaimNotification(ctx, time.Hour)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	box := &connectionCounter{held: func() int32 { return h.db.Pool().Stat().AcquiredConns() }}
	if sent, err := h.svc.DeliverNotifications(ctx, box); err != nil || sent != 1 {
		t.Fatalf("with one message leased to a dead sender: sent %d, %v; want the other one", sent, err)
	}
	if strings.Contains(strings.Join(box.sent, "\n"), crashed.Recipient) {
		t.Errorf("a leased message was sent by another replica")
	}
	if _, err := h.db.Pool().Exec(ctx, `UPDATE notifications SET claimed_until = now() - interval '1 second' WHERE id = $1`, crashed.ID); err != nil {
		t.Fatal(err)
	}
	if sent, err := h.svc.DeliverNotifications(ctx, box); err != nil || sent != 1 {
		t.Fatalf("after the lease ran out: sent %d, %v; want the dead sender's message", sent, err)
	}
	if box.max != 0 {
		t.Errorf("%d pool connections held while sending, want 0", box.max)
	}
}

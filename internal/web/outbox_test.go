package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/jobs"
	"github.com/storefront/storefront/internal/smtpmail"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/testkit"
)

// fakeClock is a clock a test moves forward by hand.
type fakeClock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.skew)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew += d
}

// startJobs runs the store's background jobs on h's database, emailing
// through the fake server with a short backoff; clock, when not nil, is the
// workers' clock.
func (h *harness) startJobs(mail *testkit.SMTPServer, clock *fakeClock) *jobs.Runner {
	h.t.Helper()
	svc := h.svc
	if clock != nil {
		key, err := h.db.Secret(context.Background(), billing.RecoveryKeyName)
		if err != nil {
			h.t.Fatal(err)
		}
		svc = billing.NewService(h.db, h.gateway, billing.Options{BaseURL: h.store.URL, Currency: "usd",
			APIVersion: stripeapi.APIVersion, RecoveryKey: key, Now: clock.Now})
	}
	cfg, err := smtpmail.ParseURL("smtp://127.0.0.1:" + mail.Port() + "?tls=none&from=shop@example.com")
	if err != nil {
		h.t.Fatal(err)
	}
	mailer, err := smtpmail.New(cfg, smtpmail.WithTimeout(2*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	runner, err := jobs.New(h.db.Pool(), jobs.Options{
		Service: svc, Mailer: mailer, EmailBackoff: jobs.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		PollInterval: 20 * time.Millisecond, JobTimeout: 10 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := runner.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	uiCtx, stopUI := context.WithCancel(context.Background())
	ui, err := runner.UI(uiCtx, "/admin/jobs")
	if err != nil {
		h.t.Fatal(err)
	}
	h.jobsUI.Store(&ui)
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runner.Stop(ctx); err != nil {
			h.t.Errorf("stop jobs: %v", err)
		}
		stopUI()
	})
	return runner
}

// declined charges a card that declines for each email; each declined
// charge writes its customer a notification.
func (h *harness) declined(emails ...string) {
	h.t.Helper()
	for _, email := range emails {
		if a := h.chargeCard(h.recordedCard(email, "4000000000000341").ID, "10", "usd"); a.Status != billing.ChargeDeclined {
			h.t.Fatalf("charge for %s: %s, want declined", email, a.Status)
		}
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendJobs counts the send jobs in each state.
func (h *harness) sendJobs() map[string]int {
	h.t.Helper()
	return h.jobStates(billing.SendNotificationArgs{}.Kind())
}

// checkOncePerNotification checks that the mail server holds exactly one
// message per notification, carrying its stable Message-ID.
func checkOncePerNotification(t *testing.T, mail *testkit.SMTPServer, list []billing.Notification) {
	t.Helper()
	byID := map[string]int{}
	for _, m := range mail.Messages() {
		byID[m.MessageID]++
	}
	if len(mail.Messages()) != len(list) {
		t.Errorf("%d emails received for %d notifications: %v", len(mail.Messages()), len(list), byID)
	}
	for _, n := range list {
		id := fmt.Sprintf("notification-%d.", n.ID)
		found := 0
		for mid, count := range byID {
			if strings.HasPrefix(mid, id) {
				found += count
			}
		}
		if found != 1 {
			t.Errorf("notification %d arrived %d times", n.ID, found)
		}
	}
}

// TestEmailOutageLosesNothing: with the mail server down for longer than
// the polling sender used to try (10 tries), every message keeps being
// tried, a message the server refuses holds up no other, and each arrives
// exactly once when the server is back.
func TestEmailOutageLosesNothing(t *testing.T) {
	h := newHarness(t)
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{RejectRecipient: "busy@example.com"})
	mail.SetDown(true)
	h.declined("o1@example.com", "o2@example.com", "o3@example.com")
	if n := h.sendJobs()["available"]; n != 3 {
		t.Fatalf("%d send jobs available after 3 declines, want one each (in the charge's transaction)", n)
	}
	h.startJobs(mail, nil)

	const oldGiveUp = 10
	waitFor(t, "every message was tried more often than the old sender would", func() bool {
		for _, n := range h.notifications() {
			if n.Attempts <= oldGiveUp {
				return false
			}
		}
		return true
	})
	page := h.admin("/admin/outbox", "admin", adminPassword)
	if strings.Count(page.body, `status-retrying`) != 3 || !strings.Contains(page.body, "421") {
		t.Errorf("outbox during the outage does not show 3 retrying messages with the server's answer:\n%s", page.body)
	}

	// One message the server keeps refusing is tried beside the others, not before them.
	h.declined("busy@example.com")
	mail.SetDown(false)
	waitFor(t, "the three messages were sent", func() bool { return len(mail.Messages()) >= 3 })
	waitFor(t, "their jobs completed", func() bool { return h.sendJobs()["completed"] == 3 })
	var sent []billing.Notification
	for _, n := range h.notifications() {
		switch {
		case n.Recipient == "busy@example.com":
			if n.Status() != billing.NotificationRetrying || !strings.Contains(n.LastError, "450") {
				t.Errorf("the refused message: %s, %q; want retrying with the server's 450", n.Status(), n.LastError)
			}
		case n.Status() != billing.NotificationSent:
			t.Errorf("notification %d to %s: %s", n.ID, n.Recipient, n.Status())
		default:
			sent = append(sent, n)
		}
	}
	checkOncePerNotification(t, mail, sent)
}

// failingEmail writes email a message while the mail server is down, and
// returns once the jobs, on a fake clock, have failed to send it once.
func (h *harness) failingEmail(email string) (*testkit.SMTPServer, *fakeClock) {
	h.t.Helper()
	mail := testkit.StartSMTP(h.t, testkit.SMTPOptions{})
	mail.SetDown(true)
	clock := &fakeClock{}
	h.declined(email)
	h.startJobs(mail, clock)
	waitFor(h.t, "a try failed", func() bool { return h.notifications()[0].Attempts >= 1 })
	return mail, clock
}

// TestEmailFailsAfterThreeDaysAndIsSentAgain: a message that fails for
// three days (a fake clock) is failed, shown so in the outbox with its last
// error, and staff can send it again, once.
func TestEmailFailsAfterThreeDaysAndIsSentAgain(t *testing.T) {
	h := newHarness(t)
	mail, clock := h.failingEmail("late@example.com")
	waitFor(t, "a few tries failed", func() bool { return h.notifications()[0].Attempts >= 3 })
	if n := h.notifications()[0]; n.Status() != billing.NotificationRetrying || n.FailingSince.IsZero() {
		t.Fatalf("after failing tries: %s since %v", n.Status(), n.FailingSince)
	}

	clock.Advance(billing.EmailRetryWindow)
	waitFor(t, "the message is failed", func() bool { return h.notifications()[0].Status() == billing.NotificationFailed })
	waitFor(t, "its job is cancelled", func() bool { return h.sendJobs()["cancelled"] == 1 })
	n := h.notifications()[0]
	page := h.admin("/admin/outbox", "admin", adminPassword)
	form := fmt.Sprintf(`action="/admin/outbox/%d/send"`, n.ID)
	if !strings.Contains(page.body, "status-failed") || !strings.Contains(page.body, "421") || !strings.Contains(page.body, form) || !strings.Contains(page.body, "Send again") {
		t.Fatalf("outbox does not show the failed message, its last error and Send again:\n%s", page.body)
	}

	path := fmt.Sprintf("/admin/outbox/%d/send", n.ID)
	// Not staff, or from another site: refused, nothing queued.
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+path, nil)
	if res := h.do(req); res.status != http.StatusUnauthorized {
		t.Errorf("Send again without credentials: %d, want 401", res.status)
	}
	req, _ = http.NewRequest(http.MethodPost, h.store.URL+path, nil)
	req.SetBasicAuth("admin", adminPassword)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res := h.do(req); res.status != http.StatusForbidden {
		t.Errorf("Send again from another site: %d, want 403", res.status)
	}
	if got := h.sendJobs(); got["available"]+got["scheduled"]+got["retryable"]+got["running"] != 0 {
		t.Fatalf("a refused Send again queued a job: %v", got)
	}

	mail.SetDown(false)
	if res := h.adminPost(path, url.Values{}); res.status != http.StatusSeeOther || res.location != "/admin/outbox" {
		t.Fatalf("Send again: %d %q %s", res.status, res.location, res.body)
	}
	waitFor(t, "the message is sent", func() bool { return h.notifications()[0].Status() == billing.NotificationSent })
	checkOncePerNotification(t, mail, h.notifications())
	if res := h.adminPost(path, url.Values{}); res.status != http.StatusBadRequest {
		t.Errorf("Send again of a sent message: %d, want 400", res.status)
	}
	var audited int
	if err := h.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'notification.resend' AND target = $1 AND actor = 'admin'`,
		fmt.Sprint(n.ID)).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("audit rows for Send again: %d (%v), want 1", audited, err)
	}
}

// TestJobsUIRetriesAFailedJob: River's UI is mounted for staff only, and
// a job retried through it runs again, audited.
func TestJobsUIRetriesAFailedJob(t *testing.T) {
	h := newHarness(t)
	mail, clock := h.failingEmail("ui@example.com")
	clock.Advance(billing.EmailRetryWindow)
	waitFor(t, "the job is cancelled", func() bool { return h.sendJobs()["cancelled"] == 1 })

	if res := h.get("/admin/jobs/"); res.status != http.StatusUnauthorized {
		t.Errorf("jobs UI without credentials: %d, want 401", res.status)
	}
	page := h.admin("/admin/jobs/", "admin", adminPassword)
	if page.status != http.StatusOK || !strings.Contains(page.body, `<div id="root"`) || !strings.Contains(page.body, `/admin/jobs/assets/`) {
		t.Fatalf("jobs UI: %d\n%s", page.status, page.body)
	}
	list := h.admin("/admin/jobs/api/jobs?state=cancelled", "admin", adminPassword)
	m := regexp.MustCompile(`"id":\s*"?(\d+)`).FindStringSubmatch(list.body)
	if list.status != http.StatusOK || m == nil || !strings.Contains(list.body, "send_notification") {
		t.Fatalf("jobs API list of cancelled jobs: %d %s", list.status, list.body)
	}

	mail.SetDown(false)
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/admin/jobs/api/jobs/retry", strings.NewReader(`{"ids":["`+m[1]+`"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", adminPassword)
	if res := h.do(req); res.status != http.StatusOK {
		t.Fatalf("retry through the jobs UI: %d %s", res.status, res.body)
	}
	waitFor(t, "the message is sent", func() bool { return h.notifications()[0].Status() == billing.NotificationSent })
	checkOncePerNotification(t, mail, h.notifications())
	var audited int
	if err := h.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'jobs.retry' AND detail LIKE '%'||$1||'%'`, m[1]).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("audit rows for the retry: %d (%v), want 1", audited, err)
	}
}

// TestStopHandsBackARunningJob: a job still running when the drain ends is
// cancelled and goes back to the queue, not lost and not left running, and
// the next replica to start sends the message once.
func TestStopHandsBackARunningJob(t *testing.T) {
	h := newHarness(t)
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	mail.StallNext()
	h.declined("drain@example.com")
	first := h.startJobs(mail, nil)
	select {
	case <-mail.Stalled():
	case <-time.After(30 * time.Second):
		t.Fatal("the job never reached the mail server")
	}
	drain, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := first.Stop(drain); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := h.sendJobs(); got["running"] != 0 || got["available"]+got["retryable"] != 1 {
		t.Fatalf("send jobs after the drain ran out: %v; want it back in the queue", got)
	}
	if n := h.notifications()[0]; n.Status() == billing.NotificationSent {
		t.Fatalf("the stalled message is marked sent")
	}
	h.startJobs(mail, nil)
	waitFor(t, "the message is sent", func() bool { return h.notifications()[0].Status() == billing.NotificationSent })
	checkOncePerNotification(t, mail, h.notifications())
}

// TestOutboxPagesThroughEveryMessage: an outbox of more messages than a
// page shows them all, newest first, a page at a time (messages written in
// the same instant included), and the failed ones alone, counted; a
// malformed page link or filter is a 400 page.
func TestOutboxPagesThroughEveryMessage(t *testing.T) {
	h := newHarness(t)
	const total = billing.OutboxPageSize*2 + 30
	if _, err := h.db.Pool().Exec(context.Background(), `
		INSERT INTO customers (email) VALUES ('many@example.com');
		INSERT INTO notifications (customer_id, kind, recipient, subject, body, link, created_at, failed_at, failing_since)
		SELECT c.id, 'manage_cards', 'many@example.com', 'Message ' || i, 'body', 'https://shop.example/account',
		       timestamptz '2026-11-01 00:00:00Z' + (i / 3) * interval '1 minute',
		       CASE WHEN i % 10 = 0 THEN now() END, CASE WHEN i % 10 = 0 THEN now() END
		FROM generate_series(1, `+strconv.Itoa(total)+`) i, customers c WHERE c.email = 'many@example.com'`); err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`<tr id="notification-(\d+)">`)
	older := regexp.MustCompile(`<p class="pager"><a href="([^"]+)">Older</a>`)
	walk := func(first string) (shown []int64) {
		t.Helper()
		for page := first; page != ""; {
			res := h.admin(page, "admin", adminPassword)
			if res.status != http.StatusOK {
				t.Fatalf("%s: %d", page, res.status)
			}
			for _, m := range ids.FindAllStringSubmatch(res.body, -1) {
				id, _ := strconv.ParseInt(m[1], 10, 64)
				shown = append(shown, id)
			}
			page = ""
			if m := older.FindStringSubmatch(res.body); m != nil {
				page = html.UnescapeString(m[1])
			}
		}
		return shown
	}
	want := func(where string) []int64 {
		t.Helper()
		rows, err := h.db.Pool().Query(context.Background(), `SELECT id FROM notifications WHERE `+where+` ORDER BY created_at DESC, id DESC`)
		if err != nil {
			t.Fatal(err)
		}
		list, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	if got, all := walk("/admin/outbox"), want("true"); !slices.Equal(got, all) {
		t.Errorf("the outbox's pages show %d messages, want all %d newest first, each once", len(got), len(all))
	}
	failed := want("failed_at IS NOT NULL")
	if got := walk("/admin/outbox?status=failed"); !slices.Equal(got, failed) {
		t.Errorf("the failed messages' pages show %v, want %v", got, failed)
	}
	if page := h.admin("/admin/outbox", "admin", adminPassword); !strings.Contains(page.body, "Failed ("+strconv.Itoa(len(failed))+")") {
		t.Errorf("the outbox does not count its %d failed messages", len(failed))
	}
	for _, bad := range []string{"?status=sent", "?before=yesterday&before_id=1", "?before=2026-11-01T00:00:00Z", "?before=2026-11-01T00:00:00Z&before_id=-3"} {
		if res := h.admin("/admin/outbox"+bad, "admin", adminPassword); res.status != http.StatusBadRequest || !strings.Contains(res.body, "<h1>") {
			t.Errorf("/admin/outbox%s: %d, want a 400 page", bad, res.status)
		}
	}
}

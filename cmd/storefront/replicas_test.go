package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/internal/stripeemu"
	"github.com/storefront/storefront/internal/testkit"
)

const replicaPassword = "a replica password"

// replicaSet is several real server processes on one database, sharing a
// Stripe emulator that runs in the test and a fake mail server.
type replicaSet struct {
	t     *testing.T
	db    *postgres.DB
	emu   *stripeemu.Emulator
	mail  *testkit.SMTPServer
	procs []*process
}

func startReplicas(t *testing.T, n int) *replicaSet {
	t.Helper()
	db, dbURL := pg.NewDBWithURL(t)
	bin := filepath.Join(t.TempDir(), "storefront")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	emu := stripeemu.New(stripeemu.Options{})
	emuServer := httptest.NewServer(emu.Handler())
	t.Cleanup(func() { emuServer.Close(); emu.Close() })
	emu.SetPublicURL(emuServer.URL)
	rs := &replicaSet{t: t, db: db, emu: emu, mail: testkit.StartSMTP(t, testkit.SMTPOptions{})}
	for range n {
		rs.procs = append(rs.procs, startProcess(t, bin, map[string]string{
			"DATABASE_URL":          dbURL,
			"PORT":                  fmt.Sprint(testkit.FreePort(t)),
			"STRIPE_API_BASE":       emuServer.URL,
			"STRIPE_WEBHOOK_SECRET": "whsec_replicas",
			"ADMIN_PASSWORD":        replicaPassword,
			"SMTP_URL":              "smtp://127.0.0.1:" + rs.mail.Port() + "?tls=none&from=shop@example.com",
			// A job still running after 16 s (its replica died) is handed on.
			"JOB_TIMEOUT":     "8s",
			"EMAIL_RETRY_MIN": "100ms",
			"EMAIL_RETRY_MAX": "1s",
			// The 0341 card's generic decline is soft: with no retries
			// scheduled, each declined charge writes its customer at once.
			"DUNNING_SCHEDULE": "off",
		}))
	}
	return rs
}

// declinedCharge saves a card that declines through replica i and charges
// it through replica i+1: the customer gets a notification, and its job.
func (rs *replicaSet) declinedCharge(i int, email string) {
	t := rs.t
	t.Helper()
	base := rs.procs[i%len(rs.procs)].baseURL
	res, body := postForm(t, base+"/create-checkout-session", url.Values{"email": {email}})
	loc, _ := url.Parse(res.Header.Get("Location"))
	sessionID := filepath.Base(loc.Path)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(sessionID, "cs_test_") {
		t.Fatalf("Save card for %s: %d %q\n%s", email, res.StatusCode, res.Header.Get("Location"), body)
	}
	err := rs.emu.CompleteCheckout(context.Background(), sessionID, stripeemu.Card{
		Number: "4000000000000341", Expiry: "12 / 34", CVC: "123", Name: "Pat Example", Email: email,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, page := get(t, base+"/success?session_id="+sessionID); !strings.Contains(page, "Card saved") {
		t.Fatalf("success page for %s: %s", email, page)
	}
	var pm string
	if err := rs.db.Pool().QueryRow(context.Background(), `SELECT pm.id FROM payment_methods pm JOIN customers c ON c.id = pm.customer_id WHERE c.email = $1`, email).Scan(&pm); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, rs.procs[(i+1)%len(rs.procs)].baseURL+"/admin/charges", strings.NewReader(url.Values{
		"confirm": {"yes"}, "payment_method": {pm}, "amount": {"10.99"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", replicaPassword)
	if res, body := mustDo(t, req); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("charge for %s: %d %s", email, res.StatusCode, body)
	}
}

// sendJob is a send job's row as River keeps it.
type sendJob struct {
	notificationID int64
	state          string
	attempt        int
	attemptedBy    []string
}

func (rs *replicaSet) sendJobs() []sendJob {
	rs.t.Helper()
	rows, err := rs.db.Pool().Query(context.Background(), `
		SELECT (args->>'notification_id')::bigint, state::text, attempt, coalesce(attempted_by, '{}')
		FROM river_job WHERE kind = 'send_notification' ORDER BY id`)
	if err != nil {
		rs.t.Fatal(err)
	}
	defer rows.Close()
	var out []sendJob
	for rows.Next() {
		var j sendJob
		if err := rows.Scan(&j.notificationID, &j.state, &j.attempt, &j.attemptedBy); err != nil {
			rs.t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// received counts the emails the mail server accepted per notification.
func (rs *replicaSet) received() map[int64]int {
	out := map[int64]int{}
	for _, m := range rs.mail.Messages() {
		idPart, _, _ := strings.Cut(strings.TrimPrefix(m.MessageID, "notification-"), ".")
		id, err := strconv.ParseInt(idPart, 10, 64)
		if err != nil {
			rs.t.Errorf("email with a foreign Message-ID %q", m.MessageID)
		}
		out[id]++
	}
	return out
}

func (rs *replicaSet) waitFor(what string, limit time.Duration, cond func() bool) {
	rs.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			var logs strings.Builder
			for i, p := range rs.procs {
				fmt.Fprintf(&logs, "--- replica %d:\n%s\n", i, p.logs)
			}
			rs.t.Fatalf("timed out waiting until %s; jobs %+v\n%s", what, rs.sendJobs(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicasRunEachJobOnce runs three real server processes on one
// database: every email job runs once, on one of them; a kill -9 of the
// one in the middle of sending hands its job to another, and the customer
// gets the email once.
func TestReplicasRunEachJobOnce(t *testing.T) {
	rs := startReplicas(t, 3)

	const n = 6
	for i := range n {
		rs.declinedCharge(i, fmt.Sprintf("r%d@example.com", i))
	}
	rs.waitFor("every email arrived", time.Minute, func() bool { return len(rs.mail.Messages()) >= n })
	rs.waitFor("every job completed", time.Minute, func() bool {
		jobs := rs.sendJobs()
		for _, j := range jobs {
			if j.state != "completed" {
				return false
			}
		}
		return len(jobs) == n
	})
	for _, j := range rs.sendJobs() {
		if j.attempt != 1 || len(j.attemptedBy) != 1 {
			t.Errorf("job of notification %d ran %d times, by %v; want once", j.notificationID, j.attempt, j.attemptedBy)
		}
	}
	got := rs.received()
	for _, j := range rs.sendJobs() {
		if got[j.notificationID] != 1 {
			t.Errorf("notification %d arrived %d times, want once", j.notificationID, got[j.notificationID])
		}
	}

	// The next message's first session hangs at the mail server; the
	// process holding it dies without a word.
	rs.mail.StallNext()
	rs.declinedCharge(0, "killed@example.com")
	select {
	case <-rs.mail.Stalled():
	case <-time.After(time.Minute):
		t.Fatal("no replica connected to the mail server")
	}
	var runner string
	if err := rs.db.Pool().QueryRow(context.Background(), `
		SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
		WHERE kind = 'send_notification' AND state = 'running'`).Scan(&runner); err != nil {
		t.Fatalf("the running send job: %v", err)
	}
	pid, _ := strconv.Atoi(runner[strings.LastIndexByte(runner, '_')+1:])
	var victim *process
	for _, p := range rs.procs {
		if p.cmd.Process.Pid == pid {
			victim = p
		}
	}
	if victim == nil {
		t.Fatalf("job running on %q, which is none of the replicas", runner)
	}
	victim.kill()

	rs.waitFor("the killed replica's email arrived", 2*time.Minute, func() bool { return len(rs.mail.Messages()) >= n+1 })
	rs.waitFor("its job completed", time.Minute, func() bool {
		jobs := rs.sendJobs()
		return len(jobs) == n+1 && jobs[n].state == "completed"
	})
	last := rs.sendJobs()[n]
	if len(last.attemptedBy) != 2 || last.attemptedBy[0] != runner || last.attemptedBy[1] == runner {
		t.Errorf("the killed replica's job was attempted by %v; want %s, then another replica", last.attemptedBy, runner)
	}
	if got := rs.received(); got[last.notificationID] != 1 || len(rs.mail.Messages()) != n+1 {
		t.Errorf("after the kill: notification %d arrived %d times, %d emails in all; want once, %d", last.notificationID, got[last.notificationID], len(rs.mail.Messages()), n+1)
	}
}

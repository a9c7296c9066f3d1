package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/jobs"
	"github.com/storefront/storefront/internal/stripeemu"
)

// startSchedules runs the store's jobs with its schedules, as serve does, as
// the replica id, on h's database and clock.
func (h *harness) startSchedules(id string) {
	h.t.Helper()
	h.runJobs(jobs.Options{Service: h.svc, Periodic: jobs.Schedules(), ID: id})
}

// runJobs works h's jobs with opts, polling often and with a 10 s job
// timeout, until the test ends.
func (h *harness) runJobs(opts jobs.Options) {
	h.t.Helper()
	opts.PollInterval, opts.JobTimeout = 20*time.Millisecond, 10*time.Second
	runner, err := jobs.New(h.db.Pool(), opts)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := runner.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runner.Stop(ctx); err != nil {
			h.t.Errorf("stop jobs %s: %v", opts.ID, err)
		}
	})
}

// jobStates counts the jobs of a kind by state.
func (h *harness) jobStates(kind string) map[string]int {
	h.t.Helper()
	rows, err := h.db.Pool().Query(context.Background(), `SELECT state::text, count(*) FROM river_job WHERE kind = $1 GROUP BY state`, kind)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	states := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			h.t.Fatal(err)
		}
		states[state] = n
	}
	return states
}

// TestSchedulesRunOnceAcrossReplicas: three replicas with workers on one
// database; each schedule is enqueued once, by the leader, runs on one of
// them as the system, and does its work once: the due retry of a soft
// decline is made and pays, the expiring card is reminded, and the
// reconciliation, recovery reminders and fold of the payments counters
// complete.
func TestSchedulesRunOnceAcrossReplicas(t *testing.T) {
	stripe := newStripe(t, stripeemu.Options{SecretKey: emulatorKey})
	schedule := billing.DefaultDunningSchedule()
	first := newStoreWith(t, stripe, storeOptions{dunning: schedule})
	replicas := []*harness{first,
		newStoreWith(t, stripe, storeOptions{db: first.db, dunning: schedule}),
		newStoreWith(t, stripe, storeOptions{db: first.db, dunning: schedule})}
	pm := first.recordedCard("sched@example.com", "4242424242424242")
	first.declineNext(pm.ID, "insufficient_funds")
	a := first.chargeCard(pm.ID, "40.00", "usd")
	expiring := first.cardExpiring("soon@example.com", first.now().Add(25*time.Hour))
	for i, h := range replicas {
		h.advance(25 * time.Hour)
		h.startSchedules("replica_" + string(rune('a'+i)))
	}

	kinds := []string{billing.DunningArgs{}.Kind(), billing.CardExpiryRemindersArgs{}.Kind(),
		billing.RecoveryRemindersArgs{}.Kind(), billing.ReconcileArgs{}.Kind(), billing.FoldPaymentTotalsArgs{}.Kind()}
	for _, kind := range kinds {
		waitFor(t, kind+" completed", func() bool { return first.jobStates(kind)["completed"] > 0 })
		if states := first.jobStates(kind); len(states) != 1 || states["completed"] != 1 {
			t.Errorf("%s jobs by state: %v, want one, completed", kind, states)
		}
	}
	a = first.attempt(a.ID)
	if !a.Dunning.Succeeded() || len(first.retriesOf(a)) != 1 {
		t.Errorf("after the dunning job: attempt %+v, %d retries", a, len(first.retriesOf(a)))
	}
	if pis := first.paymentIntents(); pis["succeeded"] != 1 {
		t.Errorf("PaymentIntents %v, want one succeeded", pis)
	}
	if audit := strings.Join(first.auditActors(), ", "); !strings.Contains(audit, "system:dunning charge.dunning_retry") {
		t.Errorf("audit log %q: the retry is not the system's", audit)
	}
	if reminders := first.notificationsOfKind(billing.NotificationCardExpiring); len(reminders) != 1 || reminders[0].CustomerID != expiring.CustomerID {
		t.Errorf("card reminders %+v, want one", reminders)
	}
	if sends := first.sendJobs(); sends["available"] != 1 {
		t.Errorf("send jobs %v: the reminder's email waits (no SMTP_URL) as one job", sends)
	}
}

package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

// How often each schedule runs. Every run does what is due by then, so a
// run that is late or missed (no leader for a while) is caught up by the next.
const (
	ReconcileEvery = 15 * time.Minute
	DunningEvery   = time.Hour
	RemindersEvery = time.Hour
	FoldEvery      = time.Hour
)

// Schedules are the store's periodic jobs: reconciliation every 15
// minutes; dunning, the two reminders and the fold of the payments
// counters hourly. River enqueues them on the
// elected leader only, one job per period (a new leader within the period
// enqueues none), in the default queue.
func Schedules() []*river.PeriodicJob {
	once := func(period time.Duration) *river.InsertOpts {
		return &river.InsertOpts{Queue: billing.QueueDefault, UniqueOpts: river.UniqueOpts{ByPeriod: period}}
	}
	return []*river.PeriodicJob{
		Every(ReconcileEvery, billing.ReconcileArgs{}, once(ReconcileEvery)),
		Every(DunningEvery, billing.DunningArgs{}, once(DunningEvery)),
		Every(RemindersEvery, billing.CardExpiryRemindersArgs{}, once(RemindersEvery)),
		Every(RemindersEvery, billing.RecoveryRemindersArgs{}, once(RemindersEvery)),
		Every(FoldEvery, billing.FoldPaymentTotalsArgs{}, once(FoldEvery)),
	}
}

// scheduleWorkers run the schedules' jobs, each as the system (the audit
// log names "system:" and the job's kind). A run cut short by the job's
// timeout loses nothing: what it had not done is due for the next, and a
// charge left unanswered is sent again with its key.
func scheduleWorkers(svc *billing.Service) []Registration {
	return []Registration{
		Worker(&scheduleWorker[billing.DunningArgs]{run: errorOf(svc.RunDunning)}),
		Worker(&scheduleWorker[billing.CardExpiryRemindersArgs]{run: errorOf(svc.SendCardExpiryReminders)}),
		Worker(&scheduleWorker[billing.RecoveryRemindersArgs]{run: errorOf(svc.SendRecoveryReminders)}),
		Worker(&scheduleWorker[billing.ReconcileArgs]{run: errorOf(svc.Reconcile)}),
		Worker(&scheduleWorker[billing.FoldPaymentTotalsArgs]{run: errorOf(svc.FoldPaymentTotals)}),
	}
}

// errorOf keeps a schedule's error, which River records on the job (see
// /admin/jobs); what a run did shows in what it wrote.
func errorOf[R any](run func(context.Context) (R, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := run(ctx)
		return err
	}
}

type scheduleWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	run func(ctx context.Context) error
}

func (w *scheduleWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	return w.run(staff.WithActor(ctx, staff.SystemActor(job.Kind)))
}

package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/storefront/storefront/internal/shop"
)

// chargeWorkers per replica: enough to keep the shared Stripe schedule
// booked at its limit (a worker mostly waits for its slot), since River
// hands each one a new job at most every fetch cooldown (100 ms).
const chargeWorkers = 20

// chargeWorker charges one order of a batch. The shop decides what the
// outcome is and records it on the batch; an error is an outcome not known
// yet (a 429 stripe-go did not retry, a timeout, a crash of the last run),
// and River runs the job again, which sends the charge again with its key.
type chargeWorker struct {
	river.WorkerDefaults[shop.ChargeOrderArgs]
	shop    *shop.Service
	backoff Backoff
}

func (w *chargeWorker) Work(ctx context.Context, job *river.Job[shop.ChargeOrderArgs]) error {
	_, err := w.shop.ChargeBatchOrder(ctx, job.Args.BatchID, job.Args.OrderID, job.Attempt >= job.MaxAttempts)
	return err
}

// NextRetry comes back soon at first (a 429 passes within a second), then
// less often, up to a minute apart.
func (w *chargeWorker) NextRetry(job *river.Job[shop.ChargeOrderArgs]) time.Time {
	return w.backoff.Next(job.Attempt)
}

// chargeBackoff spaces the tries of a charge whose outcome is unknown:
// 1 s, doubling, at most a minute; ChargeJobMaxAttempts tries take about
// 25 minutes, well inside the day Stripe keeps an idempotency key.
var chargeBackoff = Backoff{Min: time.Second, Max: time.Minute}

package jobs

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/storefront/storefront/internal/billing"
)

// emailWorker sends one customer message per job. The domain holds the
// message while it is sent, checks it was not sent already, and decides
// when to give up; this maps its answers onto River's.
type emailWorker struct {
	river.WorkerDefaults[billing.SendNotificationArgs]
	svc     *billing.Service
	mailer  billing.Mailer
	backoff Backoff
}

// errNoMailer ends a try on a replica without SMTP_URL; only a replica with
// one works the email queue, so this is a job moved by hand.
var errNoMailer = errors.New("no SMTP_URL on this replica")

func (w *emailWorker) Work(ctx context.Context, job *river.Job[billing.SendNotificationArgs]) error {
	if w.mailer == nil {
		return errNoMailer
	}
	err := w.svc.SendNotification(ctx, job.Args.NotificationID, w.mailer, job.Attempt >= job.MaxAttempts)
	var busy *billing.BusyError
	switch {
	case errors.As(err, &busy):
		// Another job holds this message (sent again by hand meanwhile):
		// come back when its hold ends, without using up a try.
		return river.JobSnooze(max(time.Until(busy.Until), time.Second))
	case errors.Is(err, billing.ErrGaveUp), errors.Is(err, billing.ErrNotFound):
		return river.JobCancel(err)
	}
	return err
}

// NextRetry spaces a message's tries by the backoff.
func (w *emailWorker) NextRetry(job *river.Job[billing.SendNotificationArgs]) time.Time {
	return w.backoff.Next(job.Attempt)
}

// Backoff is the wait before each retry: Min after the first failure, twice
// as long after each further one, at most Max, give or take a tenth at
// random so that the messages held up by one outage do not all come back at
// the same moment.
type Backoff struct {
	Min, Max time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Default email backoff: 30 s, 1 min, 2 min ... then hourly, which is about
// 80 tries over billing.EmailRetryWindow.
const (
	DefaultBackoffMin = 30 * time.Second
	DefaultBackoffMax = time.Hour
)

// Delay is the wait after the attempt'th failure (1 for the first), before jitter.
func (b Backoff) Delay(attempt int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi < lo {
		hi = max(lo, DefaultBackoffMax)
	}
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Next is when the try after the attempt'th failure is due.
func (b Backoff) Next(attempt int) time.Time {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	d := b.Delay(attempt)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return now().Add(d + jitter)
}

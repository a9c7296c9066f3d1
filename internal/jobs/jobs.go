// Package jobs runs the store's background work on River, a job queue kept
// in the store's own PostgreSQL: thin workers that call the billing and shop
// domains, as internal/web does for requests.
//
// Jobs are inserted by internal/postgres in the transaction of the change
// that causes them (River's InsertTx), with argument types from billing and
// shop, so neither they nor postgres import this package. Every replica started
// with workers fetches jobs with SELECT ... FOR UPDATE SKIP LOCKED, so each
// job runs on one replica at a time; a replica that dies mid-job has the job
// handed to another by River's rescuer once it has run for twice the job
// timeout.
//
// Adding work:
//
//   - a job: its args type in billing or shop (a struct with a Kind method,
//     no River import), its worker in a file of this package (see email.go,
//     charges.go), passed to New in Options.Workers as Worker(&yourWorker{...});
//     a job inserted with a change goes in by a postgres method that calls
//     River's InsertTx on the change's transaction (see insertNotification
//     there, and enqueueCharges for many at once with InsertManyTx);
//   - a customer email: insert the notification with postgres'
//     insertNotification, in the transaction that decides it; its send job
//     comes with it;
//   - a schedule: a *river.PeriodicJob in Schedules (schedules.go; Every
//     makes one) with its worker in scheduleWorkers; serve passes Schedules
//     in Options.Periodic. River enqueues periodic jobs on the elected
//     leader only, so each runs once per period however many replicas run;
//     a job that must not act twice (one email per card and expiry) needs
//     its own idempotency as well, a unique key or a guarded insert, since a
//     job can run again after its replica dies.
//
// A worker's Timeout (JobTimeout by default) must stay under twice
// JobTimeout, or River would hand a job that is still running to another
// replica.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// Defaults.
const (
	DefaultJobTimeout = time.Minute
	// Workers per queue and replica.
	defaultWorkers = 10
	emailWorkers   = 5
	// hardStopWait bounds the wait for cancelled jobs to return at shutdown.
	hardStopWait = 10 * time.Second
)

// Options configure a Runner.
type Options struct {
	// Service is the domain the workers call.
	Service *billing.Service
	// Mailer sends customer email. Nil (no SMTP_URL): the email queue is
	// not worked here and its messages wait.
	Mailer billing.Mailer
	// EmailBackoff spaces the tries of a message that cannot be sent.
	EmailBackoff Backoff
	// JobTimeout cancels a job's context after this long; a job still
	// running after twice as long (its replica died) is run again elsewhere.
	JobTimeout time.Duration
	// PollInterval is how often an idle replica looks for jobs beyond
	// PostgreSQL's notifications (River's default, 1 s, when zero).
	PollInterval time.Duration
	// ID names this process in River's job attempts and leader election;
	// unique among the processes running at once.
	ID string
	// Periodic are the schedules, enqueued by the elected leader only.
	Periodic []*river.PeriodicJob
	// Shop, when set, is the domain of batch charges: their worker is
	// registered and their queue worked (serve always sets it).
	Shop *shop.Service
	// Workers registers more workers (see Worker).
	Workers []Registration
	Logger  *slog.Logger
}

// Registration adds a worker to River's registry.
type Registration func(*river.Workers) error

// Worker registers w.
func Worker[T river.JobArgs](w river.Worker[T]) Registration {
	return func(ws *river.Workers) error { return river.AddWorkerSafely(ws, w) }
}

// Every is a periodic job that enqueues args every interval (the first
// time at start), on the leader only.
func Every(interval time.Duration, args river.JobArgs, opts *river.InsertOpts) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, opts },
		&river.PeriodicJobOpts{RunOnStart: true})
}

// Runner is the store's River client: it works the queues once started,
// and serves River's UI whether started or not.
type Runner struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger
}

// New builds the client with every worker registered and the queues this
// process works: default, and email when there is a Mailer.
func New(pool *pgxpool.Pool, opts Options) (*Runner, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Service == nil {
		return nil, errors.New("jobs: a Service is required")
	}
	timeout := opts.JobTimeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	workers := river.NewWorkers()
	// The email worker is registered even without a Mailer: the leader's
	// rescuer needs every kind's worker to hand a dead replica's job on.
	// So are the schedules' workers, whether or not this process is given
	// the schedules: whichever replica is leader enqueues them, and any
	// replica working the default queue may run them.
	registrations := append([]Registration{Worker(&emailWorker{svc: opts.Service, mailer: opts.Mailer, backoff: opts.EmailBackoff})},
		scheduleWorkers(opts.Service)...)
	if opts.Shop != nil {
		registrations = append(registrations, Worker(&chargeWorker{shop: opts.Shop, backoff: chargeBackoff}))
	}
	registrations = append(registrations, opts.Workers...)
	for _, register := range registrations {
		if err := register(workers); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
	}
	queues := map[string]river.QueueConfig{billing.QueueDefault: {MaxWorkers: defaultWorkers}}
	if opts.Mailer != nil {
		queues[billing.QueueEmail] = river.QueueConfig{MaxWorkers: emailWorkers}
	}
	if opts.Shop != nil {
		queues[shop.QueueCharges] = river.QueueConfig{MaxWorkers: chargeWorkers}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   opts.ID,
		Logger:               log,
		Workers:              workers,
		Queues:               queues,
		PeriodicJobs:         opts.Periodic,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: 2 * timeout,
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        min(opts.PollInterval, river.FetchCooldownDefault),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Runner{client: client, log: log}, nil
}

// Start works the queues until Stop.
func (r *Runner) Start(ctx context.Context) error {
	// Stop, not ctx, ends the work: a signal must let running jobs finish.
	if err := r.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	return nil
}

// Stop fetches no more jobs and lets running ones finish until ctx ends;
// then it cancels the rest, whose jobs go back to the queue for a replica
// to run again, and waits a little for them to return.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	r.log.Warn("jobs still running at the end of the drain: cancelling them; they will run again")
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopWait)
	defer cancel()
	if err := r.client.StopAndCancel(hard); err != nil {
		return fmt.Errorf("stop jobs: %w", err)
	}
	return nil
}

// Client is the River client, for tests that wait on its events.
func (r *Runner) Client() *river.Client[pgx.Tx] { return r.client }

// UI is River's web UI (job lists by state, retry, cancel) for mounting at
// prefix behind the admin's authentication. It must be started, and stops
// with ctx.
func (r *Runner) UI(ctx context.Context, prefix string) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(r.client, nil),
		Logger:    r.log,
		Prefix:    prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs ui: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("jobs ui: %w", err)
	}
	return h, nil
}

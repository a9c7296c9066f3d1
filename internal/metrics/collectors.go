package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reports the pgx pool's statistics at scrape time.
type poolCollector struct {
	pool *pgxpool.Pool

	conns, maxConns, totalConns                            *prometheus.Desc
	acquires, acquireSeconds, waits, waitSeconds, canceled *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	return &poolCollector{
		pool: pool,
		conns: prometheus.NewDesc("storefront_db_pool_connections",
			"Database connections by state: acquired (in use), idle, constructing.", []string{"state"}, nil),
		maxConns: prometheus.NewDesc("storefront_db_pool_max_connections",
			"The most connections the pool opens.", nil, nil),
		totalConns: prometheus.NewDesc("storefront_db_pool_total_connections",
			"Connections the pool holds, whatever their state.", nil, nil),
		acquires: prometheus.NewDesc("storefront_db_pool_acquires_total",
			"Connections acquired from the pool.", nil, nil),
		acquireSeconds: prometheus.NewDesc("storefront_db_pool_acquire_seconds_total",
			"Time spent acquiring connections, waits included.", nil, nil),
		waits: prometheus.NewDesc("storefront_db_pool_acquire_waits_total",
			"Acquires that found no idle connection and had to wait for one (or for a new one).", nil, nil),
		waitSeconds: prometheus.NewDesc("storefront_db_pool_acquire_wait_seconds_total",
			"Time acquires spent waiting because no connection was idle.", nil, nil),
		canceled: prometheus.NewDesc("storefront_db_pool_canceled_acquires_total",
			"Acquires given up because their context ended first.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.maxConns, c.totalConns, c.acquires, c.acquireSeconds, c.waits, c.waitSeconds, c.canceled} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.totalConns, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
	ch <- prometheus.MustNewConstMetric(c.canceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
}

// webhookLagCollector reports how long ago the newest webhook event
// arrived, read from the database at scrape time so that every replica
// reports the same, whichever one received it.
type webhookLagCollector struct {
	last func(context.Context) (time.Time, error)
	now  func() time.Time
	age  *prometheus.Desc
}

func newWebhookLagCollector(last func(context.Context) (time.Time, error), now func() time.Time) *webhookLagCollector {
	return &webhookLagCollector{
		last: last,
		now:  now,
		age: prometheus.NewDesc("storefront_webhook_last_event_age_seconds",
			"Seconds since the newest webhook event was received, by any replica; absent until one has been.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *webhookLagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.age }

// Collect implements prometheus.Collector. A database error becomes a
// scrape error for this metric alone.
func (c *webhookLagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	last, err := c.last(ctx)
	switch {
	case err != nil:
		ch <- prometheus.NewInvalidMetric(c.age, err)
	case !last.IsZero():
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(c.now().Sub(last).Seconds(), 0))
	}
}

package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/storefront/storefront/internal/stripeemu"
)

// benchClients are the concurrency levels measured; the goal is stated at 8.
var benchClients = []int{1, 8, 16}

// BenchmarkWebhookIngest posts signed events over loopback from N concurrent
// clients into the real handler and database (verify, store in the ledger,
// apply, mark applied), then, in the same run, inserts the same payloads as
// raw single-row INSERTs at the same concurrency: the ceiling. It reports
// events/s, p50/p99 latency, the ceiling's rows/s and their ratio.
//
// Events are checkout.session.expired for sessions the store does not know:
// the full ledger path with an effect that needs no Stripe call, so the
// figure is the store's own cost, not the emulator's.
func BenchmarkWebhookIngest(b *testing.B) {
	for _, clients := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			h := newBenchHarness(b)
			payloads := make([][]byte, b.N)
			run := time.Now().UnixNano()
			for i := range payloads {
				payloads[i] = fmt.Appendf(nil, `{"id":"evt_bench%d_%d","object":"event","api_version":%q,"created":%d,"type":"checkout.session.expired","data":{"object":{"id":"cs_test_bench%d","object":"checkout.session","status":"expired"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null}}`,
					run, i, stripe.APIVersion, time.Now().Unix(), i)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

			b.ResetTimer()
			start := time.Now()
			latencies := parallel(b, clients, len(payloads), func(i int) error {
				req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/webhook", bytes.NewReader(payloads[i]))
				req.Header.Set("Stripe-Signature", signed(payloads[i], webhookSecret, time.Now()))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, res.Body) //nolint:errcheck // drained so the connection is reused
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", res.StatusCode)
				}
				return nil
			})
			elapsed := time.Since(start)
			b.StopTimer()

			ctx := context.Background()
			ceilingStart := time.Now()
			parallel(b, clients, len(payloads), func(i int) error {
				_, err := h.db.Pool().Exec(ctx, `INSERT INTO stripe_events (id, type, api_version, object_id, created_at, payload) VALUES ($1, $2, $3, $4, now(), $5)`,
					fmt.Sprintf("evt_raw%d_%d", run, i), "checkout.session.expired", stripe.APIVersion, fmt.Sprintf("cs_test_bench%d", i), string(payloads[i]))
				return err
			})
			ceiling := time.Since(ceilingStart)

			rate := float64(len(payloads)) / elapsed.Seconds()
			ceilingRate := float64(len(payloads)) / ceiling.Seconds()
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(ceilingRate, "raw-inserts/s")
			b.ReportMetric(rate/ceilingRate, "ratio")
			b.ReportMetric(percentile(latencies, 50), "p50-ms")
			b.ReportMetric(percentile(latencies, 99), "p99-ms")
		})
	}
}

// parallel runs fn(0..n-1) from clients goroutines and returns each call's latency in milliseconds.
func parallel(b *testing.B, clients, n int, fn func(i int) error) []float64 {
	b.Helper()
	latencies := make([]float64, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var once sync.Once
	for range clients {
		wg.Go(func() {
			for i := range next {
				start := time.Now()
				if err := fn(i); err != nil {
					once.Do(func() { b.Errorf("call %d: %v", i, err) })
				}
				latencies[i] = float64(time.Since(start).Microseconds()) / 1000
			}
		})
	}
	wg.Wait()
	return latencies
}

func percentile(values []float64, p int) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[(len(sorted)-1)*p/100]
}

// newBenchHarness is the test harness for a benchmark.
func newBenchHarness(b *testing.B) *harness {
	b.Helper()
	return newStore(b, newStripe(b, stripeemu.Options{}), nil)
}

package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// catalogRounds is how many times a run alternates between the page and
// the reference, so that both meet the same load from the rest of the machine.
const catalogRounds = 10

// catalogWarmup is how many requests each side serves before a run is timed.
const catalogWarmup = 1000

// BenchmarkCatalogPage serves the catalog page (GET /) through the real
// server and every middleware, from N concurrent clients, to a visitor
// without a cart and to one whose cart holds two T-shirts; in the same run,
// interleaved with it, http.FileServer serves the page's own bytes from a
// file over the same kind of httptest server: the reference. It reports
// pages/s, the reference's requests/s, their ratio, and the page's p50/p99.
// Goal: ratio ≥ 0.5 at 8 clients.
func BenchmarkCatalogPage(b *testing.B) {
	h := newBenchHarness(b)
	tshirt := h.catalog()["T-shirt"]
	s := h.newShopper()
	if res := s.add(tshirt, "2"); res.status != http.StatusSeeOther {
		b.Fatalf("add to cart: %d %s", res.status, res.body)
	}
	storeURL, _ := url.Parse(h.store.URL)
	visitors := []struct {
		name    string
		cookies []*http.Cookie
	}{
		{"visitor=no-cart", nil},
		{"visitor=cart", s.client.Jar.Cookies(storeURL)},
	}
	for _, v := range visitors {
		page := func(req *http.Request) {
			for _, c := range v.cookies {
				req.AddCookie(c)
			}
		}
		body := catalogBody(b, h.store.URL, page)
		reference := fileServerOf(b, body)
		for _, clients := range benchClients {
			b.Run(fmt.Sprintf("%s/clients=%d", v.name, clients), func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
				defer client.CloseIdleConnections()
				getPage := getter(client, h.store.URL+"/", page, len(body))
				getReference := getter(client, reference.URL+"/", func(*http.Request) {}, len(body))
				// Warm both up first: new connections, and behind them new
				// PostgreSQL backends planning their statements, would
				// otherwise weigh on whichever side happens to meet them.
				parallel(b, clients, catalogWarmup, func(int) error { return getPage() })
				parallel(b, clients, catalogWarmup, func(int) error { return getReference() })
				var latencies []float64
				var pageTime, referenceTime time.Duration
				b.ResetTimer()
				for round := range catalogRounds {
					n := b.N / catalogRounds
					if round == catalogRounds-1 {
						n = b.N - n*(catalogRounds-1)
					}
					start := time.Now()
					latencies = append(latencies, parallel(b, clients, n, func(int) error { return getPage() })...)
					pageTime += time.Since(start)
					b.StopTimer() // ns/op is the page's alone
					start = time.Now()
					parallel(b, clients, n, func(int) error { return getReference() })
					referenceTime += time.Since(start)
					b.StartTimer()
				}
				b.StopTimer()
				rate := float64(b.N) / pageTime.Seconds()
				referenceRate := float64(b.N) / referenceTime.Seconds()
				b.ReportMetric(rate, "pages/s")
				b.ReportMetric(referenceRate, "fileserver/s")
				b.ReportMetric(rate/referenceRate, "ratio")
				b.ReportMetric(percentile(latencies, 50), "p50-ms")
				b.ReportMetric(percentile(latencies, 99), "p99-ms")
			})
		}
	}
}

// catalogBody is the page as the visitor gets it, to be served by the reference.
func catalogBody(b *testing.B, base string, prepare func(*http.Request)) []byte {
	b.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	prepare(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("catalog page: %d %v", res.StatusCode, err)
	}
	return body
}

// fileServerOf serves body as index.html with http.FileServer.
func fileServerOf(b *testing.B, body []byte) *httptest.Server {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), body, 0o644); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	b.Cleanup(srv.Close)
	return srv
}

// getter returns a GET of url that fails unless it answers 200 with size bytes.
func getter(client *http.Client, url string, prepare func(*http.Request), size int) func() error {
	return func() error {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		prepare(req)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch {
		case err != nil:
			return err
		case res.StatusCode != http.StatusOK:
			return fmt.Errorf("%s: status %d", url, res.StatusCode)
		case n != int64(size):
			return fmt.Errorf("%s: %d bytes, want %d", url, n, size)
		}
		return nil
	}
}

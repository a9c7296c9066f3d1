package jobs

import (
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

func TestBackoffDoublesUpToItsMax(t *testing.T) {
	b := Backoff{Min: 30 * time.Second, Max: time.Hour}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := b.Delay(1000); got != time.Hour {
		t.Errorf("Delay(1000) = %s, want the max", got)
	}
	if got := (Backoff{}).Delay(1); got != DefaultBackoffMin {
		t.Errorf("zero Backoff: Delay(1) = %s, want %s", got, DefaultBackoffMin)
	}
}

func TestBackoffNextIsJitteredFromItsClock(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	b := Backoff{Min: 10 * time.Second, Max: time.Minute, Now: func() time.Time { return now }}
	for range 100 {
		next := b.Next(2) // 20 s, give or take 2 s
		if d := next.Sub(now); d < 18*time.Second || d > 22*time.Second {
			t.Fatalf("Next(2) is %s after now, want 20 s ± 10%%", d)
		}
	}
}

// TestDefaultBackoffTriesForTheWholeWindow: the default schedule spreads
// its tries over three days well within the attempt limit, so the window,
// not the count, ends them.
func TestDefaultBackoffTriesForTheWholeWindow(t *testing.T) {
	b := Backoff{Min: DefaultBackoffMin, Max: DefaultBackoffMax}
	var total time.Duration
	tries := 0
	for total < 72*time.Hour {
		tries++
		total += b.Delay(tries)
	}
	if tries >= billing.EmailMaxAttempts/4 {
		t.Errorf("%d tries to span three days; the attempt limit would end them first", tries)
	}
}

package stripeemu

import "time"

// RetrySchedule lists the delays between an event's delivery attempts.
func (e *Emulator) RetrySchedule() []time.Duration {
	var d []time.Duration
	for failed := 1; failed < e.opts.MaxAttempts; failed++ {
		d = append(d, e.backoff(failed))
	}
	return d
}

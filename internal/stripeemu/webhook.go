package stripeemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Delivery is one attempt to deliver an event to the webhook endpoint.
type Delivery struct {
	EventID    string
	EventType  string
	URL        string
	Attempt    int // 1 for the first try
	StatusCode int // 0 when no response was received
	Err        error
	At         time.Time
}

// OK reports whether the endpoint acknowledged the event (a 2xx).
func (d Delivery) OK() bool { return d.Err == nil && d.StatusCode >= 200 && d.StatusCode < 300 }

// Deliveries returns every delivery attempt so far, in the order they finished.
func (e *Emulator) Deliveries() []Delivery {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	return append([]Delivery(nil), e.deliveries...)
}

// Sign returns the Stripe-Signature header value for body signed with secret
// at time t: "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", the scheme
// Stripe's libraries verify (the whole "whsec_..." string is the key).
func Sign(body []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver tries one event until it is acknowledged, MaxAttempts is reached or
// the emulator closes. Each event has its own goroutine, so a failing endpoint
// for one event never delays another; e.sem bounds concurrent requests.
func (e *Emulator) deliver(eventID string) {
	defer e.wg.Done()
	wait := e.opts.DeliveryDelay
	for attempt := 1; attempt <= e.opts.MaxAttempts; attempt++ {
		select {
		case <-time.After(wait):
		case <-e.ctx.Done():
			return
		}
		e.mu.Lock()
		url := e.webhookURL
		ev := e.events[eventID]
		var body []byte
		var err error
		var typ string
		if ev != nil && url != "" {
			typ = string(ev.Type)
			var m map[string]any
			if m, err = e.renderLocked(kindEvent, eventID, nil); err == nil {
				body, err = json.Marshal(m)
			}
		}
		e.mu.Unlock()
		if url == "" || ev == nil {
			return
		}
		if err != nil {
			e.log.Error("stripeemu: render event for delivery", "event", eventID, "err", err)
			return
		}

		select {
		case e.sem <- struct{}{}:
		case <-e.ctx.Done():
			return
		}
		status, err := e.post(url, body)
		<-e.sem

		d := Delivery{EventID: eventID, EventType: typ, URL: url, Attempt: attempt, StatusCode: status, Err: err, At: time.Now()}
		e.dmu.Lock()
		e.deliveries = append(e.deliveries, d)
		e.dmu.Unlock()
		if d.OK() {
			e.mu.Lock()
			if ev := e.events[eventID]; ev != nil {
				ev.PendingWebhooks = 0
			}
			// Best effort: if this save fails, a restart delivers the event
			// again, which an endpoint must accept anyway.
			_ = e.commitLocked(e.ctx, true)
			e.mu.Unlock()
			e.log.Debug("stripeemu: delivered", "event", eventID, "type", typ, "attempt", attempt)
			return
		}
		if e.ctx.Err() != nil {
			return
		}
		if attempt == e.opts.MaxAttempts {
			e.log.Warn("stripeemu: giving up delivering event", "event", eventID, "type", typ, "attempts", attempt, "status", status, "err", err)
			return
		}
		wait = e.backoff(attempt)
		e.log.Info("stripeemu: delivery failed, will retry", "event", eventID, "type", typ, "attempt", attempt, "status", status, "err", err, "in", wait)
	}
}

// backoff is RetryBase doubled per failed attempt, capped at RetryMax.
func (e *Emulator) backoff(failed int) time.Duration {
	d := e.opts.RetryBase
	for i := 1; i < failed; i++ {
		d *= 2
		if d >= e.opts.RetryMax || d <= 0 {
			return e.opts.RetryMax
		}
	}
	return min(d, e.opts.RetryMax)
}

// post sends one signed attempt, signed afresh so the timestamp is current.
func (e *Emulator) post(url string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", Sign(body, e.opts.WebhookSecret, time.Now()))
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused; the answer is ignored.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

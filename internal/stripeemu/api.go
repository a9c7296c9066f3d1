package stripeemu

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// route is one API endpoint: it returns the JSON body for a 200 or an error
// (an *apiError with its status and Stripe shape; anything else is a 500).
type route func(c *call) (any, error)

// call is one API request as the endpoints see it.
type call struct {
	r       *http.Request
	p       *reader
	apiKey  string
	reqID   string
	idemKey string
}

// reqInfo is what an event records of the request that caused it.
func (c *call) reqInfo() *reqInfo {
	if c == nil {
		return nil
	}
	return &reqInfo{id: c.reqID, idempotencyKey: c.idemKey}
}

type reqInfo struct{ id, idempotencyKey string }

// maxBodyBytes bounds request bodies; Stripe's own limit is far above any
// request this emulator understands.
const maxBodyBytes = 1 << 20

func (e *Emulator) api(h route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := newID("req_")
		w.Header().Set("Request-Id", reqID)
		w.Header().Set("Stripe-Version", apiVersion())

		apiKey, aerr := e.authorize(r)
		if aerr == nil && !e.admit() {
			// Refused before anything ran, so not kept under its idempotency key.
			w.Header().Set("Stripe-Should-Retry", "true")
			aerr = &apiError{status: http.StatusTooManyRequests, typ: "invalid_request_error", code: "rate_limit",
				message: "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits."}
		}
		if aerr != nil {
			writeJSON(w, aerr.status, aerr.body())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			ae := invalidRequest("Invalid request body: " + err.Error())
			writeJSON(w, ae.status, ae.body())
			return
		}
		p, err := parseParams(r.Form)
		if err != nil {
			ae := invalidRequest("Invalid request parameters: " + err.Error())
			writeJSON(w, ae.status, ae.body())
			return
		}
		c := &call{r: r, p: newReader(p), apiKey: apiKey, reqID: reqID, idemKey: strings.TrimSpace(r.Header.Get("Idempotency-Key"))}

		if c.idemKey != "" && (r.Method == http.MethodPost || r.Method == http.MethodDelete) {
			w.Header().Set("Idempotency-Key", c.idemKey)
			status, body, replayed := e.idempotent(c, func() (int, []byte) { return e.execute(h, c) })
			if replayed {
				w.Header().Set("Idempotent-Replayed", "true")
			}
			writeRaw(w, status, body)
			return
		}
		status, body := e.execute(h, c)
		writeRaw(w, status, body)
	})
}

// execute runs an endpoint and encodes its answer.
func (e *Emulator) execute(h route, c *call) (status int, body []byte) {
	defer func() {
		// A bug must not take the connection down with it; the fuzz test
		// asserts that no input reaches this.
		if v := recover(); v != nil {
			e.log.Error("stripeemu: panic in handler", "path", c.r.URL.Path, "panic", fmt.Sprint(v))
			status, body = encode(http.StatusInternalServerError, internalError().body())
		}
	}()
	v, err := h(c)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			e.log.Error("stripeemu: request failed", "method", c.r.Method, "path", c.r.URL.Path, "err", err)
			ae = internalError()
		}
		return encode(ae.status, ae.body())
	}
	return encode(http.StatusOK, v)
}

func internalError() *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: "api_error", message: "An unknown error occurred in the Stripe emulator."}
}

func encode(status int, v any) (int, []byte) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b, _ = json.Marshal(internalError().body())
		return http.StatusInternalServerError, b
	}
	return status, append(b, '\n')
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	s, b := encode(status, v)
	writeRaw(w, s, b)
}

// authorize accepts the emulator's key when it has one, else any test or
// live secret key, as the emulator has one account.
func (e *Emulator) authorize(r *http.Request) (string, *apiError) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error",
			message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."}
	}
	want := e.opts.SecretKey
	if (want != "" && subtle.ConstantTimeCompare([]byte(key), []byte(want)) != 1) ||
		(!strings.HasPrefix(key, "sk_test_") && !strings.HasPrefix(key, "sk_live_")) {
		return "", &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "api_key_invalid",
			message: "Invalid API Key provided: " + redactKey(key)}
	}
	return key, nil
}

// admit takes a request from the account's token bucket, which holds a
// second's worth (one request at least) and refills at RateLimit a second:
// a burst of RateLimit passes, then RateLimit a second. Real time, not Options.Now.
func (e *Emulator) admit() bool {
	if e.opts.RateLimit <= 0 {
		return true
	}
	e.rateMu.Lock()
	defer e.rateMu.Unlock()
	now := time.Now()
	e.tokens = min(max(e.opts.RateLimit, 1), e.tokens+now.Sub(e.filledAt).Seconds()*e.opts.RateLimit)
	e.filledAt = now
	if e.tokens < 1 {
		return false
	}
	e.tokens--
	return true
}

func redactKey(k string) string {
	if len(k) <= 12 {
		return strings.Repeat("*", len(k))
	}
	return k[:8] + strings.Repeat("*", len(k)-12) + k[len(k)-4:]
}

func (e *Emulator) unknownRoute(c *call) (any, error) {
	return nil, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
		message: fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/. (This Stripe emulator implements only part of the API.)", c.r.Method, c.r.URL.Path)}
}

// idemEntry is the saved outcome of a request made with an idempotency key.
type idemEntry struct {
	method, path, fingerprint string
	created                   time.Time
	saved                     bool // false while the first request runs
	status                    int
	body                      []byte
}

// idemTTL is how long Stripe keeps idempotency keys.
const idemTTL = 24 * time.Hour

// idempotent runs fn once per (API key, idempotency key): a repeat with the
// same method, path and params replays the saved answer, 5xx included; one
// with different params is an idempotency_error, and one arriving while the
// first still runs is Stripe's 409 idempotency_error (stripe-go retries it).
func (e *Emulator) idempotent(c *call, fn func() (int, []byte)) (int, []byte, bool) {
	k := c.apiKey + "\x00" + c.idemKey
	fp := c.p.p.canonical()
	e.idemMu.Lock()
	now := e.now()
	ent := e.idem[k]
	if ent == nil || ent.saved && now.Sub(ent.created) > idemTTL {
		ent = &idemEntry{method: c.r.Method, path: c.r.URL.Path, fingerprint: fp, created: now}
		e.idem[k] = ent
		e.idemMu.Unlock()

		status, body := fn()

		e.idemMu.Lock()
		defer e.idemMu.Unlock()
		// As on Stripe, requests rejected before they did anything (bad
		// params, unknown ids) are not saved and may be retried; answers of
		// an endpoint that ran, server errors included, are.
		if status < 400 || status == http.StatusPaymentRequired || status >= 500 {
			ent.saved, ent.status, ent.body = true, status, body
		} else {
			delete(e.idem, k)
		}
		return status, body, false
	}
	saved, status, body := ent.saved, ent.status, bytes.Clone(ent.body)
	e.idemMu.Unlock()

	var ae *apiError
	switch {
	case ent.method != c.r.Method || ent.path != c.r.URL.Path || ent.fingerprint != fp:
		ae = &apiError{status: http.StatusBadRequest, typ: "idempotency_error",
			message: fmt.Sprintf("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '%s' if you meant to execute a different request.", c.idemKey)}
	case !saved:
		ae = &apiError{status: http.StatusConflict, typ: "idempotency_error",
			message: "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): " + c.idemKey + ". Please try again later."}
	default:
		return status, body, true
	}
	s, b := encode(ae.status, ae.body())
	return s, b, false
}

package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/httprate"
)

// Rate limits stop machines, not people: a shared office or a browser test
// posts the public forms 20 times a minute and passes; a script that makes a
// Stripe Customer and a session per post does not. The counters are kept
// per replica, so N replicas allow N times these numbers.
const (
	formsPerAddress   = 30 // public form posts a minute from one address
	formsPerEmail     = 10 // Save card presses an hour for one email
	formsAllAddresses = 600
	paysPerAddress    = 30 // recovery link opens a minute from one address
)

// limit answers a request over the limit with 429, Retry-After and a page
// a person understands.
func (s *Server) limit(requests int, window time.Duration, key httprate.KeyFunc) func(http.Handler) http.Handler {
	return httprate.LimitBy(requests, window, key, httprate.WithLimitHandler(s.tooManyRequests))
}

func (s *Server) tooManyRequests(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("rate limited", "client", s.clientAddr(r), "method", r.Method, logAttrs(r))
	if err := s.render(w, r, http.StatusTooManyRequests, "error", errorPage{
		Title:   "Too many attempts",
		Message: "We received too many requests from you in a short time. Please wait a minute, then try again. Nothing was charged.",
	}); err != nil {
		http.Error(w, "Too many requests; please wait a minute and try again.", http.StatusTooManyRequests)
	}
}

// sessionLimits are the limits of a public form that makes a Checkout
// Session: per address first, so that a blocked client uses up nobody
// else's share, then per email, then for all (counted under name).
func (s *Server) sessionLimits(name string) []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{
		s.limit(formsPerAddress, time.Minute, s.byAddress),
		s.limit(formsPerEmail, time.Hour, byEmail),
		s.limit(formsAllAddresses, time.Minute, httprate.Key(name)),
	}
}

// byAddress keys a limit by the client's address.
func (s *Server) byAddress(r *http.Request) (string, error) { return s.clientAddr(r), nil }

// byEmail keys a limit by the email a form names, so that one customer's
// address cannot be flooded with sessions (and mails) from many addresses.
func byEmail(r *http.Request) (string, error) {
	return "email:" + strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), nil
}

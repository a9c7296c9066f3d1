package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/storefront/storefront/internal/billing"
)

// maxFormBytes bounds every form post; the largest legitimate one is a few hundred bytes.
const maxFormBytes = 64 << 10

// securityHeaders sets the headers every response carries. form-action is
// deliberately absent: browsers apply it to the redirect to Stripe's hosted
// page. Behind https, HSTS keeps browsers from ever trying plain http.
func securityHeaders(https bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			if https {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			next.ServeHTTP(w, r)
		})
	}
}

// limitBody caps request bodies before any handler reads them.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// recordRequests logs one line per request and reports it to the metrics.
// Both name the route's pattern, read once routing is done, never the path:
// a recovery link's token (a credential for a week) must not land in logs,
// and paths would grow the metrics without bound. A path no route matched is
// not logged either: it may be a mistyped recovery link. No query strings,
// bodies or emails are logged.
func (s *Server) recordRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		took := time.Since(start)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		route := ""
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			route = rctx.RoutePattern()
		}
		if s.requests != nil {
			s.requests.ObserveRequest(route, r.Method, status, took)
		}
		if route == "" {
			route = "(no route)"
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", route),
			slog.Int("status", status),
			slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", took),
			logAttrs(r))
	})
}

// maxValueBytes bounds any one query or form value; the longest legitimate
// one (an email, an idempotency key) is a few hundred bytes.
const maxValueBytes = 1024

// checkInput answers 400 to a query or form value the store could not use:
// a NUL, invalid UTF-8, or an over-long value, which would otherwise reach
// PostgreSQL (which refuses the first two) or Stripe.
func (s *Server) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// r.Form holds the query's values and a posted form's, parsed once
		// here for the handlers too.
		err := r.ParseForm()
		if err == nil {
			err = checkValues(r.Form)
		}
		var invalid *billing.InvalidError
		if err != nil && !errors.As(err, &invalid) {
			err = billing.Invalid("request", "The request could not be read.")
		}
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func checkValues(values url.Values) error {
	for key, list := range values {
		for _, v := range append(list, key) {
			switch {
			case len(v) > maxValueBytes:
				return billing.Invalid(key, "A value in the request is too long.")
			case !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0:
				return billing.Invalid(key, "The request contains characters that are not text.")
			}
		}
	}
	return nil
}

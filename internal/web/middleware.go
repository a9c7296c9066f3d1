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

// requestLogger logs one line per request: no query strings, bodies or
// emails, and the route's pattern rather than its path, so that a recovery
// link's token (a credential for a week) never lands in the logs.
func requestLogger(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			// A path no route matched is not logged either: it may be a
			// mistyped recovery link, token and all.
			path := "(no route)"
			if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePattern() != "" {
				path = rctx.RoutePattern()
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", path),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", time.Since(start)),
				logAttrs(r))
		})
	}
}

// maxValueBytes bounds any one query or form value; the longest legitimate
// one (an email, an idempotency key) is a few hundred bytes.
const maxValueBytes = 1024

// checkInput answers 400 to a query or form value the store could not use:
// a NUL, invalid UTF-8, or an over-long value, which would otherwise reach
// PostgreSQL (which refuses the first two) or Stripe.
func (s *Server) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, err := url.ParseQuery(r.URL.RawQuery)
		if err == nil && r.Method == http.MethodPost {
			err = r.ParseForm()
		}
		if err == nil {
			err = checkValues(query)
		}
		if err == nil {
			err = checkValues(r.PostForm)
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

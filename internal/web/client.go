package web

import (
	"net/http"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
)

// resolveClient records who a request came from: the TCP peer, or, behind
// the configured proxies, the address they put in X-Forwarded-For. A client
// that reaches the store directly cannot choose its own address.
func resolveClient(trustedProxies []string) func(http.Handler) http.Handler {
	if len(trustedProxies) == 0 {
		return middleware.ClientIPFromRemoteAddr
	}
	return middleware.ClientIPFromXFF(trustedProxies...)
}

// clientAddr is the address a request came from, for rate limits, logs and
// the audit log. IPv6 clients are taken by their /64, which one client
// usually holds whole.
func (s *Server) clientAddr(r *http.Request) string {
	if ip := middleware.GetClientIP(r.Context()); ip != "" {
		return httprate.CanonicalizeIP(ip)
	}
	return "unknown"
}

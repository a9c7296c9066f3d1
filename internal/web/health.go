package web

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n")) //nolint:errcheck
}

// readyz fails when the database does not answer, so a load balancer stops
// sending traffic to a replica that cannot record anything.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.svc.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err, logAttrs(r))
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unavailable\n")) //nolint:errcheck
		return
	}
	w.Write([]byte("ok\n")) //nolint:errcheck
}

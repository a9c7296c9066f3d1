package web

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// maxAuditDetail bounds what an audit row keeps of a request body.
const maxAuditDetail = 500

// auditJobActions writes an audit row, as the staff member, for every
// change made through River's UI (retry, cancel or delete jobs; pause,
// resume or change a queue) before it is made: the action names the API
// call (jobs.retry, queues.pause), the target its path, the detail its
// JSON body (the job ids). A change that cannot be audited is refused.
func (s *Server) auditJobActions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "The request body could not be read.", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		path := strings.TrimPrefix(r.URL.Path, "/admin/jobs")
		detail := string(body)
		if len(detail) > maxAuditDetail {
			detail = detail[:maxAuditDetail]
		}
		if err := s.staff.Record(r.Context(), jobAction(r.Method, path), path, 0, "", detail); err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// jobAction names a River UI API call for the audit log: POST
// /api/jobs/retry is jobs.retry, PUT /api/queues/email/pause queues.pause,
// PATCH /api/queues/email queues.update.
func jobAction(method, path string) string {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, "/api/"), "/"), "/")
	switch {
	case parts[0] == "":
		return "jobs.change"
	case method == http.MethodPatch:
		return parts[0] + ".update"
	}
	return parts[0] + "." + parts[len(parts)-1]
}

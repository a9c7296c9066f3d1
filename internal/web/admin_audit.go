package web

import (
	"net/http"
	"strconv"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

type auditPage struct {
	Entries []staff.Entry
	Next    string
}

// adminAudit lists the audit log newest first, one keyset page at a time.
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return billing.Invalid("before", "The page link is malformed; start again from the first page.")
		}
		before = n
	}
	entries, err := s.staff.Audit(r.Context(), before)
	if err != nil {
		return err
	}
	p := auditPage{Entries: entries}
	if len(entries) == staff.AuditPageSize {
		p.Next = "/admin/audit?before=" + strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_audit", p)
}

package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/storefront/storefront/internal/billing"
)

const adminPageSize = 50

type adminPage struct {
	PaymentMethods []billing.SavedPaymentMethod
	Next           string
}

// adminPaymentMethods lists saved payment methods, newest first, one keyset page at a time.
func (s *Server) adminPaymentMethods(w http.ResponseWriter, r *http.Request) error {
	q := billing.ListQuery{Limit: adminPageSize}
	if before := r.URL.Query().Get("before"); before != "" {
		t, err := time.Parse(time.RFC3339Nano, before)
		if err != nil {
			return billing.Invalid("before", "The page link is malformed; start again from the first page.")
		}
		q.Before = t
		q.BeforeID = r.URL.Query().Get("before_id")
	}
	list, err := s.svc.ListPaymentMethods(r.Context(), q)
	if err != nil {
		return err
	}
	p := adminPage{PaymentMethods: list}
	if len(list) == adminPageSize {
		last := list[len(list)-1]
		p.Next = "/admin?" + url.Values{
			"before":    {last.SavedAt.UTC().Format(time.RFC3339Nano)},
			"before_id": {last.ID},
		}.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin", p)
}

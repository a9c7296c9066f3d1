package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/storefront/storefront/internal/billing"
)

// handlerFunc is a handler that returns its error to handle, which turns it
// into a status and an error page in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.renderError(w, r, err)
		}
	}
}

type errorPage struct {
	Title     string
	Message   string
	RequestID string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status, p := classify(err)
	reqID := middleware.GetReqID(r.Context())
	if status >= 500 {
		attrs := []any{"err", err, "status", status, "request_id", reqID, "method", r.Method}
		var ge *billing.GatewayError
		if errors.As(err, &ge) {
			attrs = append(attrs, "stripe_request_id", ge.RequestID, "stripe_code", ge.Code)
		}
		s.log.Error("request failed", attrs...)
		p.RequestID = reqID
	}
	if rerr := s.render(w, r, status, "error", p); rerr != nil {
		s.log.Error("render error page", "err", rerr, "request_id", reqID)
		http.Error(w, p.Message, status)
	}
}

// classify maps an error to its status and what the person is told.
func classify(err error) (int, errorPage) {
	var invalid *billing.InvalidError
	var gateway *billing.GatewayError
	switch {
	case errors.As(err, &gateway):
		// Before ErrNotFound: Stripe's resource_missing is Stripe's error,
		// not a page of ours that is missing.
		return http.StatusBadGateway, errorPage{Title: "Payment provider unavailable", Message: "We could not complete this with our payment provider. Nothing was saved or charged; please try again in a moment."}
	case errors.Is(err, billing.ErrNotFound):
		return http.StatusNotFound, errorPage{Title: "Not found", Message: "We could not find that page. If you followed a link from a payment, it may be mistyped or out of date."}
	case errors.As(err, &invalid):
		return http.StatusBadRequest, errorPage{Title: "That did not work", Message: invalid.Message}
	default:
		return http.StatusInternalServerError, errorPage{Title: "Something went wrong", Message: "An unexpected error stopped this request. Nothing was charged; please try again."}
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, billing.ErrNotFound)
}

// logAttrs are the request's identifying fields for log lines.
func logAttrs(r *http.Request) slog.Attr {
	return slog.String("request_id", middleware.GetReqID(r.Context()))
}

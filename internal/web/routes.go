package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Handler returns the store's routes: the table of contents of the app.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(requestLogger(s.log))
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	r.Use(http.NewCrossOriginProtection().Handler)
	r.NotFound(s.notFound)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(s.static)))

	r.Group(func(r chi.Router) {
		r.Use(limitBody(maxFormBytes))
		r.Get("/", s.handle(s.storefront))
		r.Post("/create-checkout-session", s.handle(s.createCheckoutSession))
		r.Get("/success", s.handle(s.success))
		r.Get("/cancel", s.handle(s.cancel))
	})

	r.Post("/webhook", s.webhook)

	r.Route("/admin", func(r chi.Router) {
		r.Use(adminAuth(s.adminPassword))
		r.Use(limitBody(maxFormBytes))
		r.Get("/", s.handle(s.adminPaymentMethods))
	})
	return r
}

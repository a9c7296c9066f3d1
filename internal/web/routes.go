package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/storefront/storefront/internal/shop"
)

// Handler returns the store's routes: the table of contents of the app.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(resolveClient(s.trustedProxies))
	r.Use(s.recordRequests)
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders(s.https))
	r.Use(http.NewCrossOriginProtection().Handler)
	r.NotFound(s.notFound)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(s.static)))

	r.Group(func(r chi.Router) {
		r.Use(limitBody(maxFormBytes))
		r.Use(s.checkInput)
		r.Get("/", s.handle(s.storefront))
		r.With(s.sessionLimits("forms")...).Post("/create-checkout-session", s.handle(s.createCheckoutSession))
		r.Get("/cart", s.handle(s.cart))
		r.Group(func(r chi.Router) {
			r.Use(s.limit(formsPerAddress, time.Minute, s.byAddress))
			r.Post("/cart", s.handle(s.cartAdd))
			r.Post("/cart/update", s.handle(s.cartChange(s.cartUpdate)))
			r.Post("/cart/remove", s.handle(s.cartChange(s.cartRemove)))
		})
		r.With(s.sessionLimits("checkout")...).Post("/checkout", s.handle(s.checkout))
		r.Get("/orders/{token}", s.handle(s.customerOrder))
		r.Get("/account", s.handle(s.accountRequest))
		r.With(s.sessionLimits("account")...).Post("/account", s.handle(s.accountSend))
		r.Get("/success", s.handle(s.success))
		r.Get("/cancel", s.handle(s.cancel))
		r.Group(func(r chi.Router) {
			r.Use(s.limit(paysPerAddress, time.Minute, s.byAddress))
			r.Get("/pay/complete", s.handle(s.payComplete))
			r.Get("/pay/{token}", s.handle(s.pay))
			r.Get("/card/{token}", s.handle(s.card))
			r.Get("/account/{token}", s.handle(s.account))
			r.Post("/account/{token}/default", s.handle(s.accountAction(defaultCardAction)))
			r.Post("/account/{token}/remove", s.handle(s.accountAction(removeCardAction)))
			r.Post("/account/{token}/add", s.handle(s.accountAdd))
		})
	})

	r.Post("/webhook", s.webhook)
	r.With(s.requireStaff).Get("/metrics", s.metrics.ServeHTTP)

	r.Group(func(r chi.Router) {
		r.Use(limitBody(maxFormBytes))
		r.Use(s.checkInput)
		r.Get("/admin/login", s.handle(s.adminLoginPage))
		r.Post("/admin/login", s.handle(s.adminLogin))
		r.Post("/admin/logout", s.handle(s.adminLogout))
	})
	r.Route("/admin", func(r chi.Router) {
		r.Use(s.requireStaff)
		r.Use(limitBody(maxFormBytes))
		r.Use(s.checkInput)
		r.Get("/", s.handle(s.adminPaymentMethods))
		r.Get("/outbox", s.handle(s.adminOutbox))
		r.Post("/outbox/{id}/send", s.handle(s.adminOutboxSend))
		r.Get("/customers/{id}", s.handle(s.adminCustomer))
		setDefault, detach := s.cardActions()
		r.Post("/customers/{id}/default", s.handle(setDefault))
		r.Post("/customers/{id}/detach", s.handle(detach))
		r.Post("/charges", s.handle(s.adminCharge))
		r.Get("/charges/{id}", s.handle(s.adminChargeOutcome))
		r.Post("/charges/{id}/retry", s.handle(s.adminChargeRetry))
		r.Get("/payments", s.handle(s.adminPayments))
		r.Get("/payments.csv", s.handle(s.adminPaymentsCSV))
		r.Get("/events", s.handle(s.adminEvents))
		r.Post("/events/{id}/replay", s.handle(s.adminReplay))
		r.Get("/audit", s.handle(s.adminAudit))
		// River's UI: job lists by state, retry, cancel; its own page and JSON API.
		r.With(s.auditJobActions).Mount("/jobs", s.jobs)

		charge, retry, cancel, refund := s.orderActions()
		r.Get("/orders", s.handle(s.adminOrders))
		r.Post("/orders/charge", s.handle(s.adminChargeBatch))
		r.Get("/orders/{id}", s.handle(s.adminOrder))
		r.Post("/orders/{id}/charge", s.handle(charge))
		r.Post("/orders/{id}/retry", s.handle(retry))
		r.Post("/orders/{id}/cancel", s.handle(cancel))
		r.Post("/orders/{id}/refund", s.handle(refund))
		r.Get("/products", s.handle(s.adminProducts))
		r.Post("/products", s.handle(s.adminCreateProduct))
		r.Get("/products/{id}", s.handle(s.adminProduct))
		r.Post("/products/{id}", s.handle(s.adminUpdateProduct))
		r.Post("/products/{id}/archive", s.handle(s.adminProductStatus(shop.ProductArchived)))
		r.Post("/products/{id}/restore", s.handle(s.adminProductStatus(shop.ProductActive)))
	})
	return r
}

// Package web is the store's HTTP interface: chi routes, one file per page or
// action, rendering, error pages and middleware.
package web

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
	"github.com/storefront/storefront/internal/staff"
)

// Options configure the HTTP server.
type Options struct {
	Service *billing.Service
	// Shop is the catalog, carts and orders.
	Shop *shop.Service
	// Staff signs staff in (the admin included) and keeps the audit log.
	Staff *staff.Service
	// Webhooks verifies Stripe-Signature headers.
	Webhooks WebhookVerifier
	// LocalMode shows the "test mode, local emulator" banner on every page.
	LocalMode bool
	// BaseURL is the store's public URL; https turns on HSTS and Secure cookies.
	BaseURL string
	// TrustedProxies are the CIDR prefixes of proxies whose X-Forwarded-For
	// names the client.
	TrustedProxies []string
	// Assets holds templates/*.html and static/*.
	Assets fs.FS
	Logger *slog.Logger
	// Requests, when set, is told of every answered request.
	Requests RequestObserver
	// Metrics serves GET /metrics to staff; nil: the route is a 404.
	Metrics http.Handler
	// Jobs serves River's UI at /admin/jobs to staff; nil: the route is a 404.
	Jobs http.Handler
	// FlashKey signs the messages an action leaves for the next page
	// (Store.Secret(FlashKeyName), shared by every replica); empty: a key
	// of this process, so a message set by another replica is not shown.
	FlashKey []byte
}

// RequestObserver counts requests (metrics). route is chi's route pattern,
// never the path, and empty when no route matched.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, took time.Duration)
}

// WebhookVerifier checks a webhook's signature and parses its event.
type WebhookVerifier interface {
	Verify(payload []byte, signature string) (billing.Event, error)
}

// Server holds what the handlers need.
type Server struct {
	svc            *billing.Service
	shop           *shop.Service
	webhooks       WebhookVerifier
	staff          *staff.Service
	localMode      bool
	https          bool
	trustedProxies []string
	pages          map[string]*template.Template
	static         fs.FS
	log            *slog.Logger
	requests       RequestObserver
	metrics        http.Handler
	jobs           http.Handler
	flashKey       []byte
	// catalogPages are the catalog page's renderings for its current catalog.
	catalogPages catalogPages
}

// pageNames are the templates rendered inside the layout; all are parsed at
// start so a missing or broken one stops the server before it serves.
var pageNames = []string{"storefront", "success", "processing", "cancel", "error", "pay",
	"admin", "admin_customer", "admin_charge", "admin_outbox", "admin_login", "admin_audit",
	"cart", "order", "admin_orders", "admin_order", "confirm", "admin_products", "admin_product",
	"admin_payments", "admin_events", "account_request", "account"}

// NewServer parses the templates and returns a Server.
func NewServer(opts Options) (*Server, error) {
	if opts.Service == nil || opts.Shop == nil || opts.Staff == nil || opts.Assets == nil || opts.Webhooks == nil {
		return nil, errors.New("web: Service, Shop, Staff, Webhooks and Assets are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(noDirs{opts.Assets}, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	s := &Server{
		svc:            opts.Service,
		shop:           opts.Shop,
		webhooks:       opts.Webhooks,
		staff:          opts.Staff,
		localMode:      opts.LocalMode,
		https:          strings.HasPrefix(opts.BaseURL, "https://"),
		trustedProxies: opts.TrustedProxies,
		pages:          map[string]*template.Template{},
		static:         static,
		log:            log,
		requests:       opts.Requests,
		metrics:        opts.Metrics,
		jobs:           opts.Jobs,
		flashKey:       opts.FlashKey,
	}
	if len(s.flashKey) == 0 {
		s.flashKey = make([]byte, 32)
		rand.Read(s.flashKey) // never fails (crypto/rand)
	}
	if s.metrics == nil {
		s.metrics = http.NotFoundHandler()
	}
	if s.jobs == nil {
		s.jobs = http.NotFoundHandler()
	}
	funcs := template.FuncMap{"brandName": brandName, "filterURL": filterURL, "when": when, "money": money,
		"cardName": cardName, "ordersURL": ordersURL, "label": label, "at": at, "attemptCard": attemptCard,
		"expiry": expiry, "currencyMenu": currencyMenu, "currencyField": currencyField, "declineCodes": billing.DeclineCodes,
		"eventsURL": eventsURL, "upper": strings.ToUpper}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(opts.Assets, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// noDirs serves files only: opening a directory is "not exist", so the
// static file server lists nothing.
type noDirs struct{ fs.FS }

func (d noDirs) Open(name string) (fs.File, error) {
	f, err := d.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err != nil || info.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f, nil
}

// page is what every template receives: the layout's fields and the page's own Data.
type page struct {
	LocalMode bool
	// Staff is who is signed in, on admin pages.
	Staff *staff.Actor
	// Flash is what the action that led here did.
	Flash *flash
	Data  any
}

// render executes a page into a buffer first, so that a template error is a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	body, err := s.execute(r, name, data, s.takeFlash(w, r))
	if err != nil {
		return err
	}
	s.write(w, r, status, body)
	return nil
}

// execute renders a page into its bytes, with the message an action left
// for it, if any.
func (s *Server) execute(r *http.Request, name string, data any, message *flash) ([]byte, error) {
	t, ok := s.pages[name]
	if !ok {
		return nil, fmt.Errorf("render: no template %q", name)
	}
	p := page{LocalMode: s.localMode, Data: data, Flash: message}
	if a, ok := staff.ActorFrom(r.Context()); ok {
		p.Staff = &a
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// write answers with a rendered page. With its length stated, a page over
// net/http's 2 KB buffer goes out whole rather than chunked.
func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		s.log.Debug("write response", "err", err, "request_id", middleware.GetReqID(r.Context()))
	}
}

// brandName is how a card brand is shown to people.
func brandName(brand, pmType string) string { return shop.BrandName(brand, pmType) }

// cardName is how a card is shown to people: "Visa ···· 4242".
func cardName(pm *billing.PaymentMethod) string {
	if pm == nil {
		return "(no card yet)"
	}
	return shop.CardName(*pm)
}

// when formats a time for the admin, in UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// money formats an amount in minor units for people ("$10.99").
func money(amount int64, currency string) string {
	return billing.Money{Amount: amount, Currency: currency}.String()
}

package stripeemu

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// pendingAuth is a card waiting on the 3-D Secure step of the hosted page. It is
// kept here, keyed by a random token in a hidden field, so the card number
// never travels through the HTML again.
type pendingAuth struct {
	sessionID string
	card      cardDetails
	created   time.Time
}

// pendingAuthTTL bounds how long an authentication step stays usable.
const pendingAuthTTL = 30 * time.Minute

// maxFormBytes bounds the hosted page's form posts.
const maxFormBytes = 64 << 10

// pageData is everything the hosted page templates show.
type pageData struct {
	Title     string
	Merchant  string
	Setup     bool
	Amount    string
	CancelURL string
	Message   string // for the "not available" page
	Detail    string
	ReturnURL string

	// Form state.
	Email, CardNumber, CardExpiry, CardCvc, BillingName string
	Errors                                              *ValidationError
	CardError                                           string

	// 3-D Secure step.
	AuthToken string
}

// Err returns the message for one form field, for the template.
func (d pageData) Err(field string) string { return d.Errors.forField(field) }

// sessionView is a consistent copy of what the page needs from a session.
type sessionView struct {
	found                bool
	status               stripe.CheckoutSessionStatus
	setup                bool
	amount, cancel, succ string
	email                string
}

func (e *Emulator) viewSession(id string) sessionView {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessionLocked(id)
	if s == nil {
		return sessionView{}
	}
	v := sessionView{
		found:  true,
		status: s.s.Status,
		setup:  s.s.Mode == stripe.CheckoutSessionModeSetup,
		cancel: s.s.CancelURL,
		succ:   strings.ReplaceAll(s.s.SuccessURL, "{CHECKOUT_SESSION_ID}", s.s.ID),
		email:  s.s.CustomerEmail,
	}
	if !v.setup {
		v.amount = formatAmount(s.s.AmountTotal, string(s.s.Currency))
	}
	if s.s.Customer != nil {
		if cus := e.customers[s.s.Customer.ID]; cus != nil && cus.Email != "" {
			v.email = cus.Email
		}
	}
	return v
}

func (e *Emulator) basePage(v sessionView) pageData {
	d := pageData{Merchant: e.opts.MerchantName, Setup: v.setup, Amount: v.amount, CancelURL: v.cancel, Email: v.email}
	if v.setup {
		d.Title = "Save your card"
	} else {
		d.Title = "Pay " + e.opts.MerchantName
	}
	return d
}

// hostedPage shows the checkout form of an open session.
func (e *Emulator) hostedPage(w http.ResponseWriter, r *http.Request) {
	v := e.viewSession(r.PathValue("id"))
	if !e.pageForClosed(w, v) {
		return
	}
	e.renderPage(w, http.StatusOK, "form", e.basePage(v))
}

// pageForClosed answers for a missing, expired or completed session and
// reports whether the session is open.
func (e *Emulator) pageForClosed(w http.ResponseWriter, v sessionView) bool {
	switch {
	case !v.found:
		e.renderPage(w, http.StatusNotFound, "message", pageData{Title: "Page not found", Merchant: e.opts.MerchantName,
			Message: "Something went wrong", Detail: "The page you were looking for could not be found. Please check the URL or contact the merchant."})
		return false
	case v.status == stripe.CheckoutSessionStatusExpired:
		e.renderPage(w, http.StatusGone, "message", pageData{Title: "Session expired", Merchant: e.opts.MerchantName, CancelURL: v.cancel,
			Message: "This checkout session has expired", Detail: "Return to the merchant to start again."})
		return false
	case v.status == stripe.CheckoutSessionStatusComplete:
		e.renderPage(w, http.StatusOK, "message", pageData{Title: "Already complete", Merchant: e.opts.MerchantName, ReturnURL: v.succ,
			Message: "This checkout session is already complete", Detail: "Nothing more to do here."})
		return false
	}
	return true
}

// hostedSubmit handles the form: the card details, or the 3-D Secure step's
// "Complete authentication" / "Fail authentication" buttons.
func (e *Emulator) hostedSubmit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		e.renderPage(w, http.StatusBadRequest, "message", pageData{Title: "Bad request", Merchant: e.opts.MerchantName,
			Message: "Something went wrong", Detail: "The form could not be read."})
		return
	}
	v := e.viewSession(id)
	if !e.pageForClosed(w, v) {
		return
	}
	if token := r.PostForm.Get("auth_token"); token != "" {
		e.finishAuthentication(w, r, id, v, token)
		return
	}

	d := e.basePage(v)
	d.Email = strings.TrimSpace(r.PostForm.Get("email"))
	d.CardNumber = r.PostForm.Get("cardNumber")
	d.CardExpiry = r.PostForm.Get("cardExpiry")
	d.CardCvc = r.PostForm.Get("cardCvc")
	d.BillingName = r.PostForm.Get("billingName")
	card := Card{Number: d.CardNumber, Expiry: d.CardExpiry, CVC: d.CardCvc, Name: d.BillingName, Email: d.Email}
	cd, verr := validateCard(card, e.now())
	if verr != nil {
		d.Errors = verr
		e.renderPage(w, http.StatusOK, "form", d)
		return
	}
	if cd.behavior.needs3DS {
		token := randomString(32)
		e.mu.Lock()
		now := e.now()
		for k, pa := range e.pendingAuths {
			if now.Sub(pa.created) > pendingAuthTTL {
				delete(e.pendingAuths, k)
			}
		}
		e.pendingAuths[token] = &pendingAuth{sessionID: id, card: cd, created: now}
		e.mu.Unlock()
		auth := e.basePage(v)
		auth.Title = "3D Secure 2 Test Page"
		auth.AuthToken = token
		e.renderPage(w, http.StatusOK, "auth", auth)
		return
	}
	e.checkoutResult(w, r, v, d, cd, authNone)
}

func (e *Emulator) finishAuthentication(w http.ResponseWriter, r *http.Request, id string, v sessionView, token string) {
	e.mu.Lock()
	pa := e.pendingAuths[token]
	// One use only: a second click or a replayed form finds nothing.
	delete(e.pendingAuths, token)
	e.mu.Unlock()
	d := e.basePage(v)
	if pa == nil || pa.sessionID != id || e.now().Sub(pa.created) > pendingAuthTTL {
		d.CardError = "Your authentication has expired. Please enter your card details again."
		e.renderPage(w, http.StatusOK, "form", d)
		return
	}
	d.Email, d.BillingName = pa.card.email, pa.card.name
	step := authFailed
	if r.PostForm.Get("auth_action") == "complete" {
		step = authCompleted
	}
	e.checkoutResult(w, r, v, d, pa.card, step)
}

// checkoutResult runs the attempt and redirects on success or shows the form
// again with the decline; card fields are cleared so another card is entered.
func (e *Emulator) checkoutResult(w http.ResponseWriter, r *http.Request, v sessionView, d pageData, cd cardDetails, step authStep) {
	next, err := e.attemptCheckout(r.PathValue("id"), cd, step)
	var ce *CardError
	switch {
	case err == nil:
		http.Redirect(w, r, next, http.StatusSeeOther)
	case errors.As(err, &ce):
		d.CardNumber, d.CardExpiry, d.CardCvc = "", "", ""
		d.CardError = ce.Message
		e.renderPage(w, http.StatusOK, "form", d)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrSessionNotOpen):
		// The session changed between showing the form and submitting it.
		e.pageForClosed(w, e.viewSession(r.PathValue("id")))
	default:
		e.log.Error("stripeemu: checkout attempt failed", "session", r.PathValue("id"), "err", err)
		e.renderPage(w, http.StatusInternalServerError, "message", pageData{Title: "Error", Merchant: e.opts.MerchantName,
			Message: "Something went wrong", Detail: "The emulator could not process this card."})
	}
}

func (e *Emulator) indexPage(w http.ResponseWriter, r *http.Request) {
	e.renderPage(w, http.StatusOK, "message", pageData{Title: "Stripe emulator", Merchant: e.opts.MerchantName,
		Message: "Stripe emulator", Detail: "The API is served under /v1/ and hosted Checkout pages under /c/pay/{session id}."})
}

// renderPage renders into a buffer first so a template error is a clean 500.
func (e *Emulator) renderPage(w http.ResponseWriter, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := e.pages.ExecuteTemplate(&buf, name, d); err != nil {
		e.log.Error("stripeemu: render page", "page", name, "err", err)
		http.Error(w, "internal error rendering page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// currencySymbols are the prefixes Checkout shows; other currencies show their code.
var currencySymbols = map[string]string{"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}

// formatAmount shows an amount as Checkout does: "$10.99", "¥1,000".
func formatAmount(amount int64, currency string) string {
	decimals := 2
	switch {
	case zeroDecimal(currency):
		decimals = 0
	case currency == "bhd" || currency == "jod" || currency == "kwd" || currency == "omr" || currency == "tnd":
		decimals = 3
	}
	neg := amount < 0
	if neg {
		amount = -amount
	}
	unit := int64(1)
	for range decimals {
		unit *= 10
	}
	whole := strconv.FormatInt(amount/unit, 10)
	// Group thousands.
	var g strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			g.WriteByte(',')
		}
		g.WriteRune(r)
	}
	s := g.String()
	if decimals > 0 {
		s += fmt.Sprintf(".%0*d", decimals, amount%unit)
	}
	if sym, ok := currencySymbols[currency]; ok {
		s = sym + s
	} else {
		s = strings.ToUpper(currency) + " " + s
	}
	if neg {
		s = "-" + s
	}
	return s
}

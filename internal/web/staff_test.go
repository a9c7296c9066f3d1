package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
	"github.com/storefront/storefront/internal/stripeapi"
	"github.com/storefront/storefront/internal/testkit"
	"github.com/storefront/storefront/internal/web"
	assets "github.com/storefront/storefront/web"
)

const staffPassword = "ann's long password"

func (h *harness) addStaff(email string) {
	h.t.Helper()
	if _, err := h.staff.AddUser(context.Background(), email, staffPassword); err != nil {
		h.t.Fatal(err)
	}
}

// loginForm posts the login form as a browser would and returns the
// answer with the session cookie it set, if any.
func (h *harness) loginForm(user, password, next string) (response, *http.Cookie) {
	h.t.Helper()
	form := url.Values{"user": {user}, "password": {password}, "next": {next}}
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "storefront_staff" && c.Value != "" {
			cookie = c
		}
	}
	return response{status: res.StatusCode, body: string(body), location: res.Header.Get("Location")}, cookie
}

// login signs in through the form and returns the session cookie.
func (h *harness) login(user, password string) *http.Cookie {
	h.t.Helper()
	res, cookie := h.loginForm(user, password, "/admin")
	if res.status != http.StatusSeeOther || cookie == nil {
		h.t.Fatalf("sign in as %s: %d, cookie %v", user, res.status, cookie)
	}
	return cookie
}

// browse sends a browser's request with a session cookie.
func (h *harness) browse(method, path string, form url.Values, cookie *http.Cookie) response {
	h.t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, h.store.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, h.store.URL+path, nil)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return h.do(req)
}

func TestLoginLogoutAndTheSessionCookie(t *testing.T) {
	h := newHarness(t)
	h.addStaff("ann@example.com")

	page := h.get("/admin/login")
	for _, want := range []string{`<label for="user">`, `<label for="password"`, `name="password" type="password"`, `action="/admin/login"`} {
		if page.status != http.StatusOK || !strings.Contains(page.body, want) {
			t.Errorf("login page: %d, lacks %q", page.status, want)
		}
	}

	res, cookie := h.loginForm("Ann@Example.com", staffPassword, "/admin/outbox")
	if res.status != http.StatusSeeOther || res.location != "/admin/outbox" || cookie == nil {
		t.Fatalf("sign in: %d to %q, cookie %v", res.status, res.location, cookie)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/admin" || cookie.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/admin, not Secure on http", cookie)
	}
	if d := time.Until(cookie.Expires); d > staff.AbsoluteTimeout || d < staff.AbsoluteTimeout-time.Minute {
		t.Errorf("cookie expires in %s, want the absolute timeout", d)
	}
	admin := h.browse(http.MethodGet, "/admin", nil, cookie)
	if admin.status != http.StatusOK || !strings.Contains(admin.body, "Signed in as <strong>ann@example.com</strong>") ||
		!strings.Contains(admin.body, `action="/admin/logout"`) {
		t.Errorf("admin with the cookie: %d, want who is signed in and a sign-out button", admin.status)
	}

	out := h.browse(http.MethodPost, "/admin/logout", url.Values{}, cookie)
	if out.status != http.StatusSeeOther || out.location != "/admin/login" {
		t.Errorf("sign out: %d to %q", out.status, out.location)
	}
	if again := h.browse(http.MethodGet, "/admin", nil, cookie); again.status != http.StatusSeeOther {
		t.Errorf("the old cookie after sign-out: %d, want a redirect to sign in", again.status)
	}

	wrong, cookie := h.loginForm("ann@example.com", "not the password", "")
	if wrong.status != http.StatusUnauthorized || cookie != nil {
		t.Errorf("wrong password: %d, cookie %v", wrong.status, cookie)
	}
}

func TestLoginFormShowsItsMessage(t *testing.T) {
	h := newHarness(t)
	form := url.Values{"user": {"ann@example.com"}, "password": {"wrong one"}}
	req, _ := http.NewRequest(http.MethodPost, h.store.URL+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := h.do(req)
	if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "do not match") || !strings.Contains(res.body, `value="ann@example.com"`) {
		t.Errorf("wrong password: %d, want the form again with a message and the user name", res.status)
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	h := newHarness(t)
	srv, err := web.NewServer(web.Options{Service: h.svc, Shop: h.shop, Staff: h.staff, BaseURL: "https://shop.example",
		Assets: assets.FS, Webhooks: stripeapi.NewWebhookVerifier(webhookSecret)})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"user": {"admin"}, "password": {adminPassword}}
	req := httptest.NewRequest(http.MethodPost, "https://shop.example/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Errorf("sign in behind https: %d, cookies %+v; want one Secure HttpOnly cookie", rec.Code, cookies)
	}
}

func TestSessionTimesOut(t *testing.T) {
	h := newHarness(t)
	h.addStaff("ann@example.com")
	idle := h.login("ann@example.com", staffPassword)
	busy := h.login("ann@example.com", staffPassword)
	use := func(cookie *http.Cookie) response {
		t.Helper()
		return h.browse(http.MethodGet, "/admin/audit", nil, cookie)
	}

	elapsed := staff.IdleTimeout - time.Minute
	h.advance(elapsed)
	if res := use(busy); res.status != http.StatusOK {
		t.Fatalf("session within the idle timeout: %d", res.status)
	}
	h.advance(2 * time.Minute)
	elapsed += 2 * time.Minute
	if res := use(idle); res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/admin/login") {
		t.Errorf("session idle past the idle timeout: %d to %q, want a redirect to sign in", res.status, res.location)
	}
	// The busy session is used every 20 minutes, and still ends at the absolute timeout.
	for ; elapsed+20*time.Minute < staff.AbsoluteTimeout; elapsed += 20 * time.Minute {
		if res := use(busy); res.status != http.StatusOK {
			t.Fatalf("busy session after %s: %d", elapsed, res.status)
		}
		h.advance(20 * time.Minute)
	}
	if res := use(busy); res.status != http.StatusOK {
		t.Fatalf("busy session after %s: %d", elapsed, res.status)
	}
	h.advance(staff.AbsoluteTimeout - elapsed)
	res := use(busy)
	if res.status != http.StatusSeeOther || res.location != "/admin/login?next=%2Fadmin%2Faudit" {
		t.Errorf("busy session at the absolute timeout: %d to %q", res.status, res.location)
	}
}

func TestUnauthenticatedBrowsersAreSentToSignIn(t *testing.T) {
	h := newHarness(t)
	res := h.browse(http.MethodGet, "/admin/customers/7?x=1", nil, nil)
	if res.status != http.StatusSeeOther || res.location != "/admin/login?next=%2Fadmin%2Fcustomers%2F7%3Fx%3D1" {
		t.Errorf("browser without a session: %d to %q", res.status, res.location)
	}
	// Scripts, posts and wrong credentials still get 401 with a Basic challenge.
	req, _ := http.NewRequest(http.MethodGet, h.store.URL+"/admin", nil)
	check401 := func(name string, req *http.Request) {
		t.Helper()
		r, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: %d, WWW-Authenticate %q", name, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	}
	check401("script", req)
	post, _ := http.NewRequest(http.MethodPost, h.store.URL+"/admin/charges", strings.NewReader("amount=1"))
	post.Header.Set("Accept", "text/html")
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	check401("post", post)
	wrong, _ := http.NewRequest(http.MethodGet, h.store.URL+"/admin", nil)
	wrong.Header.Set("Accept", "text/html")
	wrong.SetBasicAuth("admin", "wrong password")
	check401("wrong Basic", wrong)

	nexts := map[string]string{
		"/admin/customers/3":      "/admin/customers/3",
		"/admin?q=ann":            "/admin?q=ann",
		"//evil.example/admin":    "/admin",
		"https://evil.example/":   "/admin",
		"/\\evil.example":         "/admin",
		"/pay/abc":                "/admin",
		"/admin/../pay/x":         "/admin",
		"/admin/login":            "/admin",
		"javascript:alert(1)":     "/admin",
		"/administrator":          "/admin",
		"/admin\r\nLocation: x":   "/admin",
		"https://evil.example/ad": "/admin",
	}
	for next, want := range nexts {
		res, cookie := h.loginForm("admin", adminPassword, next)
		if res.status != http.StatusSeeOther || res.location != want || cookie == nil {
			t.Errorf("next %q: %d to %q, want %q", next, res.status, res.location, want)
		}
	}
}

func TestBasicAuthWithStaffUsers(t *testing.T) {
	h := newHarness(t)
	h.addStaff("ann@example.com")
	if res := h.admin("/admin", "ann@example.com", staffPassword); res.status != http.StatusOK || !strings.Contains(res.body, "ann@example.com") {
		t.Errorf("Basic with a staff user: %d", res.status)
	}
	if err := h.staff.DisableUser(context.Background(), "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if res := h.admin("/admin", "ann@example.com", staffPassword); res.status != http.StatusUnauthorized {
		t.Errorf("Basic with a disabled user: %d, want 401", res.status)
	}
	if res, _ := h.loginForm("ann@example.com", staffPassword, ""); res.status != http.StatusUnauthorized {
		t.Errorf("form with a disabled user: %d, want 401", res.status)
	}
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	logs := &testkit.SyncBuffer{}
	h := newHarnessWithLog(t, slog.New(slog.NewTextHandler(logs, nil)))
	h.addStaff("ann@example.com")
	// Signed in a moment ago: the credentials are remembered, yet a lock-out still refuses them.
	if res := h.admin("/admin", "ann@example.com", staffPassword); res.status != http.StatusOK {
		t.Fatalf("the right password: %d", res.status)
	}
	statuses := map[int]int{}
	for i := range 300 {
		statuses[h.admin("/admin", "ann@example.com", fmt.Sprintf("guess-%03d-xyz", i)).status]++
	}
	if statuses[http.StatusOK] != 0 || statuses[http.StatusTooManyRequests] < 290 {
		t.Errorf("300 wrong guesses: %v, want nearly all 429", statuses)
	}
	req, _ := http.NewRequest(http.MethodGet, h.store.URL+"/admin", nil)
	req.SetBasicAuth("ann@example.com", staffPassword)
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusTooManyRequests || retry < 1 {
		t.Fatalf("the right password after 300 guesses: %d, Retry-After %q; want 429 and a wait", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// The login form says so in words, with the same header.
	form := url.Values{"user": {"ann@example.com"}, "password": {staffPassword}}
	post, _ := http.NewRequest(http.MethodPost, h.store.URL+"/admin/login", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	page := h.do(post)
	if page.status != http.StatusTooManyRequests || !strings.Contains(page.body, "Try again in") || !strings.Contains(page.body, "Too many failed sign-ins") {
		t.Errorf("login form during the lock-out: %d\n%s", page.status, page.body)
	}
	// Once the lock has passed, the right password works again.
	h.advance(time.Duration(retry) * time.Second)
	if res := h.admin("/admin", "ann@example.com", staffPassword); res.status != http.StatusOK {
		t.Errorf("after the lock-out: %d", res.status)
	}
	out := logs.String()
	if !strings.Contains(out, "admin sign-in failed") || !strings.Contains(out, "user=ann@example.com") || !strings.Contains(out, "addr=127.0.0.1") {
		t.Errorf("failures are not logged with user and address:\n%.500s", out)
	}
	if strings.Contains(out, "guess-") || strings.Contains(out, staffPassword) {
		t.Error("a password reached the logs")
	}
}

func TestAuditRowsForEveryAction(t *testing.T) {
	h := newHarness(t)
	h.addStaff("ann@example.com")
	cookie := h.login("ann@example.com", staffPassword)
	pm := h.recordedCard("audit@example.com", "4242424242424242")
	other := h.recordedCard("audit@example.com", "5555555555554444")
	customer, err := h.svc.CustomerOfPaymentMethod(context.Background(), pm.ID)
	if err != nil {
		t.Fatal(err)
	}
	customerPath := "/admin/customers/" + strconv.FormatInt(customer, 10)

	// A charge by session, and one whose outcome is unknown, then retried by Basic auth.
	charge := h.browse(http.MethodPost, "/admin/charges", url.Values{"confirm": {"yes"}, "payment_method": {pm.ID}, "amount": {"10.99"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()}}, cookie)
	if charge.status != http.StatusSeeOther {
		t.Fatalf("charge: %d %s", charge.status, charge.body)
	}
	h.stripeDown.Store(true)
	unknown := h.browse(http.MethodPost, "/admin/charges", url.Values{"confirm": {"yes"}, "payment_method": {pm.ID}, "amount": {"5"}, "currency": {"usd"}, "key": {billing.NewIdempotencyKey()}}, cookie)
	h.stripeDown.Store(false)
	if unknown.status != http.StatusSeeOther {
		t.Fatalf("charge with Stripe down: %d", unknown.status)
	}
	if res := h.adminPost(unknown.location+"/retry", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("retry: %d %s", res.status, res.body)
	}
	if res := h.browse(http.MethodPost, customerPath+"/default", url.Values{"confirm": {"yes"}, "payment_method": {other.ID}}, cookie); res.status != http.StatusSeeOther {
		t.Fatalf("default: %d", res.status)
	}
	if res := h.browse(http.MethodPost, customerPath+"/detach", url.Values{"confirm": {"yes"}, "payment_method": {pm.ID}}, cookie); res.status != http.StatusSeeOther {
		t.Fatalf("detach: %d", res.status)
	}
	event := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
	if res := h.browse(http.MethodPost, "/admin/events/"+event.ID+"/replay", url.Values{"confirm": {"yes"}}, cookie); res.status != http.StatusSeeOther {
		t.Fatalf("replay: %d %s", res.status, res.body)
	}
	// Refused input writes no row.
	if res := h.browse(http.MethodPost, "/admin/charges", url.Values{"confirm": {"yes"}, "payment_method": {pm.ID}, "amount": {"-1"}, "currency": {"usd"}}, cookie); res.status != http.StatusBadRequest {
		t.Errorf("bad charge: %d", res.status)
	}

	entries, err := h.staff.Audit(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ actor, action, target, money string }
	var got []row
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.ActorAddress != "127.0.0.1" {
			t.Errorf("row %d from %q, want the client's address", e.ID, e.ActorAddress)
		}
		m := ""
		if e.Currency != "" {
			m = fmt.Sprintf("%d %s", e.Amount, e.Currency)
		}
		got = append(got, row{e.Actor, e.Action, e.Target, m})
	}
	want := []row{
		{"ann@example.com", "charge", pm.ID, "1099 usd"},
		{"ann@example.com", "charge", pm.ID, "500 usd"},
		{"admin", "charge.retry", pm.ID, "500 usd"},
		{"ann@example.com", "card.default", other.ID, ""},
		{"ann@example.com", "card.detach", pm.ID, ""},
		{"ann@example.com", "event.replay", event.ID, ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit rows\n got %v\nwant %v", got, want)
	}
	attemptID := strings.TrimPrefix(unknown.location, "/admin/charges/")
	if !strings.Contains(entries[len(entries)-2].Detail, "attempt "+attemptID) {
		t.Errorf("the charge's row does not name its attempt: %+v", entries[len(entries)-2])
	}

	page := h.browse(http.MethodGet, "/admin/audit", nil, cookie)
	for _, want := range []string{"Audit log", "ann@example.com", "charge.retry", "$10.99", "127.0.0.1", event.ID} {
		if page.status != http.StatusOK || !strings.Contains(page.body, want) {
			t.Errorf("/admin/audit: %d, lacks %q", page.status, want)
		}
	}
	if res := h.admin("/admin/audit?before=x", "admin", adminPassword); res.status != http.StatusBadRequest {
		t.Errorf("malformed cursor: %d", res.status)
	}
}

func TestAuditLogPages(t *testing.T) {
	h := newHarness(t)
	ctx := asStaff()
	for i := range staff.AuditPageSize + 1 {
		if err := h.staff.Record(ctx, "event.replay", fmt.Sprintf("evt_page%03d", i), 0, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	first := h.admin("/admin/audit", "admin", adminPassword)
	i := strings.Index(first.body, `href="/admin/audit?before=`)
	if first.status != http.StatusOK || i < 0 || strings.Contains(first.body, "evt_page000") {
		t.Fatalf("first page: %d, want the newest rows and a link to older ones", first.status)
	}
	link := first.body[i+len(`href="`):]
	link = link[:strings.IndexByte(link, '"')]
	second := h.admin(link, "admin", adminPassword)
	if second.status != http.StatusOK || !strings.Contains(second.body, "evt_page000") || strings.Contains(second.body, "evt_page001") {
		t.Errorf("second page %s: %d", link, second.status)
	}
}

func TestMalformedCredentialsAreRefusedNot500(t *testing.T) {
	h := newHarness(t)
	users := []string{"a\x00b@example.com", "\xff\xfe", strings.Repeat("é", 2000), "admin\u202e"}
	for _, user := range users {
		if res := h.admin("/admin", user, "\x00\xff"+strings.Repeat("p", 5000)); res.status != http.StatusUnauthorized {
			t.Errorf("Basic user %q: %d, want 401", truncateForTest(user), res.status)
		}
		// A form value that is not text is refused before sign-in is tried.
		if res, cookie := h.loginForm(user, "\x00pw", "/admin\x00"); res.status != http.StatusBadRequest || cookie != nil {
			t.Errorf("form user %q: %d, want 400", truncateForTest(user), res.status)
		}
		h.advance(2 * time.Hour) // this address's failures are forgotten
	}
}

func truncateForTest(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

func TestActionsWithoutAnActorAreRefusedBeforeStripe(t *testing.T) {
	h := newHarness(t)
	pm := h.recordedCard("nobody@example.com", "4242424242424242")
	customer, err := h.svc.CustomerOfPaymentMethod(context.Background(), pm.ID)
	if err != nil {
		t.Fatal(err)
	}
	event := eventOfType(t, h.stripeEvents(), billing.EventCheckoutSessionCompleted)
	before := h.gateway.TotalCalls()
	ctx := context.Background() // no actor
	_, chargeErr := h.svc.Charge(ctx, billing.ChargeRequest{PaymentMethodID: pm.ID, Amount: "10", Currency: "usd"})
	_, replayErr := h.svc.ReplayEvent(ctx, event.ID)
	errs := map[string]error{
		"charge":  chargeErr,
		"default": h.svc.SetDefault(ctx, customer, pm.ID),
		"detach":  h.svc.Detach(ctx, customer, pm.ID),
		"replay":  replayErr,
	}
	for name, err := range errs {
		if !errors.Is(err, staff.ErrNoActor) {
			t.Errorf("%s without an actor: %v, want ErrNoActor", name, err)
		}
	}
	if n := h.gateway.TotalCalls() - before; n != 0 {
		t.Errorf("%d Stripe calls for unattributed actions", n)
	}
	if n := h.count("audit_log"); n != 0 {
		t.Errorf("%d audit rows", n)
	}
}

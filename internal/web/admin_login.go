package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/staff"
)

// sessionCookie holds a staff login session's token. Its path keeps it off
// every customer-facing request.
const (
	sessionCookie = "storefront_staff"
	sessionPath   = "/admin"
)

// requireStaff lets in a request with a valid session cookie, or with HTTP
// Basic credentials of a staff user or of admin/ADMIN_PASSWORD (for
// scripts), and puts its actor in the context for the audit log. A browser
// that asks for a page without either is sent to the login page; anything
// else is a 401 that asks for Basic credentials, as before.
func (s *Server) requireStaff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := s.clientAddr(r)
		if c, err := r.Cookie(sessionCookie); err == nil {
			actor, err := s.staff.Session(r.Context(), c.Value)
			switch {
			case err == nil:
				actor.Address = addr
				next.ServeHTTP(w, r.WithContext(staff.WithActor(r.Context(), actor)))
				return
			case errors.Is(err, staff.ErrNoSession):
				s.clearSessionCookie(w)
			default:
				s.renderError(w, r, err)
				return
			}
		}
		if user, password, ok := r.BasicAuth(); ok {
			actor, err := s.staff.Authenticate(r.Context(), user, password, addr)
			var locked *staff.LockedError
			switch {
			case err == nil:
				actor.Via = staff.ViaBasic
				next.ServeHTTP(w, r.WithContext(staff.WithActor(r.Context(), actor)))
			case errors.As(err, &locked):
				s.logSignInFailure(r, user, addr, "basic", "locked out")
				w.Header().Set("Retry-After", retryAfter(locked, s.staff.Now()))
				http.Error(w, "Too many failed sign-ins for this user or from this address: try again after the time in Retry-After.", http.StatusTooManyRequests)
			case errors.Is(err, staff.ErrBadCredentials):
				s.logSignInFailure(r, user, addr, "basic", "wrong user or password")
				askForCredentials(w)
			default:
				s.renderError(w, r, err)
			}
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/admin/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
			return
		}
		askForCredentials(w)
	})
}

func askForCredentials(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="storefront admin", charset="UTF-8"`)
	http.Error(w, "Unauthorized: sign in at /admin/login, or send HTTP Basic credentials of a staff user (or admin and ADMIN_PASSWORD).", http.StatusUnauthorized)
}

// logSignInFailure logs who tried, from where; never the password.
func (s *Server) logSignInFailure(r *http.Request, user, addr, via, reason string) {
	s.log.Warn("admin sign-in failed", "user", truncate(user, 100), "addr", addr, "via", via, "reason", reason, logAttrs(r))
}

func truncate(v string, n int) string {
	if len(v) > n {
		return v[:n] + "…"
	}
	return v
}

// retryAfter is a lock-out's Retry-After header value, in seconds.
func retryAfter(locked *staff.LockedError, now time.Time) string {
	return strconv.Itoa(int(locked.RetryAfter(now) / time.Second))
}

type loginPage struct {
	User    string
	Next    string
	Error   string
	Retry   string
	Invalid bool
}

// adminLoginPage shows the sign-in form; someone signed in already goes on.
func (s *Server) adminLoginPage(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, err := s.staff.Session(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_login", loginPage{Next: next})
}

// adminLogin checks the form's user and password and starts a session.
func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return billing.Invalid("form", "The form could not be read.")
	}
	p := loginPage{User: r.PostFormValue("user"), Next: safeNext(r.PostFormValue("next"))}
	addr := s.clientAddr(r)
	w.Header().Set("Cache-Control", "no-store")
	actor, err := s.staff.Authenticate(r.Context(), p.User, r.PostFormValue("password"), addr)
	var locked *staff.LockedError
	switch {
	case errors.As(err, &locked):
		s.logSignInFailure(r, p.User, addr, "form", "locked out")
		wait := locked.RetryAfter(s.staff.Now())
		w.Header().Set("Retry-After", retryAfter(locked, s.staff.Now()))
		p.Error = "Too many failed sign-ins for this account or from this network. For your safety, signing in is paused; the right password will not work until then either."
		p.Retry = "Try again in " + humanWait(wait) + "."
		return s.render(w, r, http.StatusTooManyRequests, "admin_login", p)
	case errors.Is(err, staff.ErrBadCredentials):
		s.logSignInFailure(r, p.User, addr, "form", "wrong user or password")
		p.Error = "That user name and password do not match. Check them and try again."
		p.Invalid = true
		return s.render(w, r, http.StatusUnauthorized, "admin_login", p)
	case err != nil:
		return err
	}
	// A fresh token at every sign-in: a token planted before it is worthless after.
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.staff.EndSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	token, sess, err := s.staff.StartSession(r.Context(), actor)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: sessionPath,
		Expires: sess.ExpiresAt, HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode,
	})
	// The staff user's id, not their email: emails stay out of info-level logs.
	s.log.Info("admin signed in", "staff_user_id", actor.UserID, "admin", actor.Name == staff.AdminName, "addr", addr, logAttrs(r))
	http.Redirect(w, r, p.Next, http.StatusSeeOther)
	return nil
}

// adminLogout ends the session and clears its cookie.
func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.staff.EndSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(w)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	return nil
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: sessionPath, MaxAge: -1,
		HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode})
}

// safeNext is where to go after signing in: a path of the admin area on
// this origin, never another site (an open redirect), else /admin.
func safeNext(next string) string {
	const home = "/admin"
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\x00\r\n\t") || strings.Contains(next, "..") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if u.Path != home && !strings.HasPrefix(u.Path, home+"/") || u.Path == "/admin/login" || u.Path == "/admin/logout" {
		return home
	}
	return u.RequestURI()
}

// humanWait says a lock-out's length as people say it.
func humanWait(d time.Duration) string {
	switch {
	case d <= time.Minute:
		return fmt.Sprintf("%d seconds", int(d/time.Second))
	default:
		return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
	}
}

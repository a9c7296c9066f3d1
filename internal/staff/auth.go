package staff

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Throttling of sign-ins, per user name and per client address. Every
// attempt is counted before its password is checked (and given back when it
// succeeds), so that guesses sent in parallel are counted like guesses in a
// row; while a key is locked, no password is checked at all, the right one
// included. The lock grows: nobody is slowed by a few typos, a guesser is
// slowed to a handful of tries an hour.
const (
	// freeFailures is how many failures pass without any lock-out.
	freeFailures = 5
	// firstLockout is the lock after the first failure past the free ones;
	// each further failure doubles it.
	firstLockout = time.Second
	// maxLockout caps the lock, so that a guesser can keep a real user out
	// of the form for a quarter of an hour at a time, not for ever.
	maxLockout = 15 * time.Minute
	// forgetAfter is how long a key must stay quiet before its failures are
	// forgotten; longer than maxLockout, so that waiting out a lock does not
	// reset the count.
	forgetAfter = time.Hour
)

// lockout is how long a key is locked after its nth failure in a row.
func lockout(failures int) time.Duration {
	if failures <= freeFailures {
		return 0
	}
	d := firstLockout
	for range failures - freeFailures - 1 {
		d *= 2
		if d >= maxLockout {
			return maxLockout
		}
	}
	return d
}

// throttleKeys are the keys one sign-in counts against.
func throttleKeys(name, addr string) (user, address string) {
	return "user:" + name, "addr:" + addressKey(addr)
}

// cleanName is a typed user name made safe to look up and to store as a
// key: lower-cased, valid UTF-8 without control characters, at most 254
// characters. Whatever was typed, it counts against a key.
func cleanName(name string) string {
	name = strings.ToLower(strings.TrimSpace(strings.ToValidUTF8(name, "\uFFFD")))
	var b strings.Builder
	n := 0
	for _, r := range name {
		if n == 254 {
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// addressKey groups an IPv6 address by its /64, which one subscriber
// usually holds whole, so that walking through it buys no extra guesses.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return truncate(addr, 64)
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Authenticate checks a user name (`admin` or a staff email) and password
// from the client address addr. It returns the signed-in Actor, a
// *LockedError while the name or address is locked out, or ErrBadCredentials.
func (s *Service) Authenticate(ctx context.Context, name, password, addr string) (Actor, error) {
	name = cleanName(name)
	userKey, addrKey := throttleKeys(name, addr)
	now := s.now()
	if actor, ok := s.remembered.recall(name, password, now); ok {
		return s.authenticateRemembered(ctx, actor, []string{userKey, addrKey}, name, password, addr, now)
	}
	var locked *LockedError
	err := s.store.UpdateThrottles(ctx, []string{userKey, addrKey}, func(state map[string]Throttle) (map[string]Throttle, error) {
		for _, t := range state {
			if t.LockedUntil.After(now) && (locked == nil || t.LockedUntil.After(locked.Until)) {
				locked = &LockedError{Until: t.LockedUntil}
			}
		}
		if locked != nil {
			return state, nil
		}
		for key, t := range state {
			if now.Sub(t.UpdatedAt) > forgetAfter {
				t.Failures = 0
			}
			t.Failures++
			t.LockedUntil = time.Time{}
			if d := lockout(t.Failures); d > 0 {
				t.LockedUntil = now.Add(d)
			}
			t.UpdatedAt = now
			state[key] = t
		}
		return state, nil
	})
	if err != nil {
		return Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	if locked != nil {
		return Actor{}, locked
	}
	actor, ok, err := s.checkPassword(ctx, name, password)
	if err != nil || !ok {
		if err == nil {
			err = ErrBadCredentials
		}
		return Actor{}, err
	}
	// Give the attempt back: the user's count starts again, and the
	// address's is as it was before this attempt (unlocked, since it was let in).
	err = s.store.UpdateThrottles(ctx, []string{userKey, addrKey}, func(state map[string]Throttle) (map[string]Throttle, error) {
		state[userKey] = Throttle{}
		a := state[addrKey]
		a.Failures = max(a.Failures-1, 0)
		a.LockedUntil = time.Time{}
		if a.Failures > 0 {
			a.UpdatedAt = now
		} else {
			a = Throttle{}
		}
		state[addrKey] = a
		return state, nil
	})
	if err != nil {
		return Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	s.remembered.keep(name, password, actor, now)
	actor.Address = addr
	return actor, nil
}

// authenticateRemembered lets in credentials that signed in lately, once
// neither key is locked (a lock refuses the right password too) and, for a
// staff user, the user is still enabled.
func (s *Service) authenticateRemembered(ctx context.Context, actor Actor, keys []string, name, password, addr string, now time.Time) (Actor, error) {
	state, err := s.store.Throttles(ctx, keys)
	if err != nil {
		return Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	var locked *LockedError
	for _, t := range state {
		if t.LockedUntil.After(now) && (locked == nil || t.LockedUntil.After(locked.Until)) {
			locked = &LockedError{Until: t.LockedUntil}
		}
	}
	if locked != nil {
		return Actor{}, locked
	}
	if actor.UserID != 0 {
		u, err := s.store.StaffUserByEmail(ctx, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Actor{}, fmt.Errorf("authenticate: %w", err)
		}
		if err != nil || u.Disabled() {
			s.remembered.forget(name, password)
			return Actor{}, ErrBadCredentials
		}
	}
	actor.Address = addr
	return actor, nil
}

// checkPassword compares a password with the admin's or a staff user's.
// Both admin values are hashed before the constant-time comparison so that
// neither their content nor their length leaks through timing; an unknown
// or disabled user costs the same argon2id work as a known one.
func (s *Service) checkPassword(ctx context.Context, name, password string) (Actor, bool, error) {
	if len(password) > maxPasswordBytes {
		password = password[:maxPasswordBytes] // still checked, and so still refused, at a bounded cost
	}
	if name == AdminName {
		got := sha256.Sum256([]byte(password))
		ok := subtle.ConstantTimeCompare(got[:], s.adminHash[:]) == 1 && s.adminSet
		return Actor{Name: AdminName}, ok, nil
	}
	u, err := s.store.StaffUserByEmail(ctx, name)
	if errors.Is(err, ErrNotFound) {
		verifyPassword(s.dummy(), password)
		return Actor{}, false, nil
	}
	if err != nil {
		return Actor{}, false, fmt.Errorf("authenticate: %w", err)
	}
	ok := verifyPassword(u.PasswordHash, password) && !u.Disabled()
	return Actor{Name: u.Email, UserID: u.ID}, ok, nil
}

// Sessions end after IdleTimeout without a request, and AbsoluteTimeout
// after sign-in however busy they are.
const (
	// IdleTimeout: a console left open on a shared or lost machine should
	// not stay signed in for long, yet reading a customer's history between
	// two clicks must not sign anyone out.
	IdleTimeout = 30 * time.Minute
	// AbsoluteTimeout: a stolen cookie works for one working day at most,
	// and everyone types their password again once a day.
	AbsoluteTimeout = 12 * time.Hour
	// touchEvery is how stale a session's last-seen time may get before it
	// is written again: one write a minute at most, not one per request.
	touchEvery = time.Minute
)

// StartSession signs an authenticated actor in and returns the cookie's
// token; only its hash is stored.
func (s *Service) StartSession(ctx context.Context, a Actor) (string, Session, error) {
	raw := make([]byte, 32)
	rand.Read(raw) // never fails (crypto/rand)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	sess := Session{TokenHash: tokenHash(token), UserID: a.UserID, Actor: a.Name,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(AbsoluteTimeout)}
	if err := s.store.CreateStaffSession(ctx, sess); err != nil {
		return "", Session{}, fmt.Errorf("start session: %w", err)
	}
	return token, sess, nil
}

// Session returns the actor of a session token, or ErrNoSession when it is
// unknown, idle too long, past its absolute end, or its user is disabled.
func (s *Service) Session(ctx context.Context, token string) (Actor, error) {
	if token == "" || len(token) > 100 {
		return Actor{}, ErrNoSession
	}
	hash := tokenHash(token)
	sess, err := s.store.StaffSession(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Actor{}, ErrNoSession
	}
	if err != nil {
		return Actor{}, fmt.Errorf("session: %w", err)
	}
	now := s.now()
	if sess.UserDisabled || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= IdleTimeout {
		if err := s.store.DeleteStaffSession(ctx, hash); err != nil {
			return Actor{}, fmt.Errorf("session: %w", err)
		}
		return Actor{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchStaffSession(ctx, hash, now); err != nil {
			return Actor{}, fmt.Errorf("session: %w", err)
		}
	}
	return Actor{Name: sess.Actor, UserID: sess.UserID, Via: ViaSession}, nil
}

// EndSession signs a session out.
func (s *Service) EndSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := s.store.DeleteStaffSession(ctx, tokenHash(token)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// rememberFor is how long credentials that signed in are let in again
// without their hash being checked; a lock-out or a disabled user still
// refuses them at once.
const rememberFor = time.Minute

// remembered holds credentials that signed in lately, by an HMAC under a
// key of this process: the passwords themselves are never kept. Only
// credentials that were right are kept, so its size is the number of
// staff, and a guesser cannot grow it.
type remembered struct {
	key     []byte
	mu      sync.Mutex
	entries map[[32]byte]rememberedActor
}

type rememberedActor struct {
	actor Actor
	until time.Time
}

func newRemembered() remembered {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return remembered{key: key, entries: map[[32]byte]rememberedActor{}}
}

func (r *remembered) id(name, password string) [32]byte {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var id [32]byte
	copy(id[:], mac.Sum(nil))
	return id
}

func (r *remembered) recall(name, password string, now time.Time) (Actor, bool) {
	id := r.id(name, password)
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[id]
	if !ok || !now.Before(e.until) {
		return Actor{}, false
	}
	return e.actor, true
}

func (r *remembered) keep(name, password string, actor Actor, now time.Time) {
	id := r.id(name, password)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.entries {
		if !now.Before(e.until) {
			delete(r.entries, k)
		}
	}
	r.entries[id] = rememberedActor{actor: actor, until: now.Add(rememberFor)}
}

func (r *remembered) forget(name, password string) {
	id := r.id(name, password)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entries, id)
}

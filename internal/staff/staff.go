// Package staff is the people who run the store: their accounts, how they
// sign in (passwords, login sessions, throttling of guesses) and the audit
// log of what they did to money and cards. It imports nothing of ours; its
// Store is implemented by internal/postgres.
package staff

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// AdminName is the user name of the configured administrator, whose
// password is ADMIN_PASSWORD rather than a row of the Store.
const AdminName = "admin"

// MinPasswordLength is the shortest password a staff user may have, in
// characters: long enough that a throttled guesser never gets there.
const MinPasswordLength = 12

// maxPasswordBytes bounds what is hashed, so that a megabyte "password"
// cannot buy a megabyte of hashing.
const maxPasswordBytes = 1024

// Errors the Service returns; the Store returns ErrNotFound and ErrExists.
var (
	ErrNotFound       = errors.New("staff: not found")
	ErrExists         = errors.New("staff: a user with this email exists")
	ErrBadCredentials = errors.New("staff: wrong user name or password")
	ErrNoSession      = errors.New("staff: no valid session")
	// ErrNoActor refuses an action that nobody could be named for: an
	// unattributed charge is worse than none.
	ErrNoActor = errors.New("staff: no actor in context; refusing an unattributed action")
)

// InvalidError is input that cannot be used, with a message for people.
type InvalidError struct{ Message string }

func (e *InvalidError) Error() string { return e.Message }

// LockedError refuses a sign-in while its user name or address is locked
// out after repeated failures; the password was not looked at.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "staff: too many failed sign-ins; locked until " + e.Until.UTC().Format(time.RFC3339)
}

// RetryAfter is how long, in whole seconds and at least one, until the lock ends.
func (e *LockedError) RetryAfter(now time.Time) time.Duration {
	d := e.Until.Sub(now)
	if d < time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// User is a named staff account.
type User struct {
	ID           int64
	Email        string
	PasswordHash string
	CreatedAt    time.Time
	DisabledAt   time.Time
}

// Disabled tells whether the user may no longer sign in.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// Session is a login session as stored: the hash of its token, never the token.
type Session struct {
	TokenHash  []byte
	UserID     int64 // 0 for the configured admin
	Actor      string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// UserDisabled is set when the session's user has been disabled since.
	UserDisabled bool
}

// Throttle is the failure state of one throttling key (a user name or an address).
type Throttle struct {
	Failures    int
	LockedUntil time.Time
	UpdatedAt   time.Time
}

// Entry is one row of the audit log.
type Entry struct {
	ID           int64
	At           time.Time
	Actor        string
	ActorAddress string
	Action       string
	Target       string
	// Amount is in the currency's minor units; Currency is empty when no money moved.
	Amount   int64
	Currency string
	Detail   string
}

// Store keeps staff state. Implementations make each method atomic.
type Store interface {
	// CreateStaffUser adds a user, or returns ErrExists.
	CreateStaffUser(ctx context.Context, email, passwordHash string) (User, error)
	// StaffUserByEmail returns a user by lower-cased email, or ErrNotFound.
	StaffUserByEmail(ctx context.Context, email string) (User, error)
	// StaffUsers returns every user, oldest first.
	StaffUsers(ctx context.Context) ([]User, error)
	// DisableStaffUser marks a user disabled and ends their sessions, or returns ErrNotFound.
	DisableStaffUser(ctx context.Context, email string, at time.Time) error

	// CreateStaffSession records a new session.
	CreateStaffSession(ctx context.Context, s Session) error
	// StaffSession returns a session by its token's hash, or ErrNotFound.
	StaffSession(ctx context.Context, tokenHash []byte) (Session, error)
	// TouchStaffSession records that a session was used.
	TouchStaffSession(ctx context.Context, tokenHash []byte, at time.Time) error
	// DeleteStaffSession ends a session; an unknown one is not an error.
	DeleteStaffSession(ctx context.Context, tokenHash []byte) error

	// UpdateThrottles locks the throttle state of keys (a missing key reads
	// as zero), calls update with it and writes back what update returns, in
	// one transaction, so that concurrent sign-ins on several replicas count
	// every attempt. A zero Throttle is deleted. update must not use the Store.
	UpdateThrottles(ctx context.Context, keys []string, update func(map[string]Throttle) (map[string]Throttle, error)) error
	// Throttles reads the throttle state of keys, without locking; a
	// missing key is absent from the map.
	Throttles(ctx context.Context, keys []string) (map[string]Throttle, error)

	// AppendAudit writes an audit row and returns it with its id and time.
	AppendAudit(ctx context.Context, e Entry) (Entry, error)
	// AuditEntries returns rows newest first; beforeID, when not 0, is the keyset cursor.
	AuditEntries(ctx context.Context, beforeID int64, limit int) ([]Entry, error)
}

// Options configure a Service.
type Options struct {
	// AdminPassword is the password of the user `admin`; empty: no such user.
	AdminPassword string
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Service runs the staff flows over a Store.
type Service struct {
	store     Store
	adminSet  bool
	adminHash [32]byte
	now       func() time.Time
	// dummyHash is checked for unknown users, so that an unknown name takes
	// as long to refuse as a wrong password; made on first use.
	dummyHash     string
	dummyHashOnce sync.Once
	// remembered are credentials that signed in lately, so that a script
	// sending Basic auth with every request costs a read, not two locking
	// transactions and an argon2id hash each time.
	remembered remembered
}

// NewService returns a Service.
func NewService(store Store, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, adminSet: opts.AdminPassword != "",
		adminHash: sha256.Sum256([]byte(opts.AdminPassword)), remembered: newRemembered()}
}

func (s *Service) dummy() string {
	s.dummyHashOnce.Do(func() { s.dummyHash = hashPassword("not a password of anyone") })
	return s.dummyHash
}

// Now is the Service's clock.
func (s *Service) Now() time.Time { return s.now() }

// NormalizeEmail lower-cases and checks a staff email.
func NormalizeEmail(raw string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(raw))
	local, domain, ok := strings.Cut(email, "@")
	bad := !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
		!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		len(email) > 254 || !utf8.ValidString(email)
	for _, r := range email {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			bad = true
		}
	}
	if bad {
		return "", &InvalidError{Message: fmt.Sprintf("%q is not an email address.", raw)}
	}
	return email, nil
}

// CheckPassword says what is wrong with a new password, if anything.
func CheckPassword(p string) error {
	switch {
	case !utf8.ValidString(p):
		return &InvalidError{Message: "The password is not valid UTF-8."}
	case utf8.RuneCountInString(p) < MinPasswordLength:
		return &InvalidError{Message: fmt.Sprintf("The password must be at least %d characters long.", MinPasswordLength)}
	case len(p) > maxPasswordBytes:
		return &InvalidError{Message: fmt.Sprintf("The password must be at most %d bytes long.", maxPasswordBytes)}
	}
	return nil
}

// AddUser creates a staff user with a password.
func (s *Service) AddUser(ctx context.Context, email, password string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	u, err := s.store.CreateStaffUser(ctx, email, hashPassword(password))
	if err != nil {
		return User{}, fmt.Errorf("add staff user %s: %w", email, err)
	}
	return u, nil
}

// Users lists the staff users.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	return s.store.StaffUsers(ctx)
}

// DisableUser stops a user signing in and ends their sessions.
func (s *Service) DisableUser(ctx context.Context, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := s.store.DisableStaffUser(ctx, email, s.now()); err != nil {
		return fmt.Errorf("disable staff user %s: %w", email, err)
	}
	return nil
}

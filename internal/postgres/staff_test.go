package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/staff"
)

// fakeClock is the staff service's clock, moved by the test.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func newClock() *fakeClock {
	c := &fakeClock{}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	c.t.Store(&now)
	return c
}
func (c *fakeClock) Now() time.Time { return *c.t.Load() }
func (c *fakeClock) Advance(d time.Duration) {
	next := c.Now().Add(d)
	c.t.Store(&next)
}

const staffPassword = "a long staff password"

func newStaff(t *testing.T) (*staff.Service, *fakeClock, context.Context) {
	t.Helper()
	db := pg.NewDB(t)
	clock := newClock()
	svc := staff.NewService(db, staff.Options{AdminPassword: "the admin password", Now: clock.Now})
	ctx := context.Background()
	if _, err := svc.AddUser(ctx, "Ann@Example.com", staffPassword); err != nil {
		t.Fatal(err)
	}
	return svc, clock, ctx
}

func TestStaffEmailsAreUniqueWhateverTheirCase(t *testing.T) {
	svc, _, ctx := newStaff(t)
	if _, err := svc.AddUser(ctx, "ANN@example.COM", "another long password"); !errors.Is(err, staff.ErrExists) {
		t.Errorf("second ann: %v, want ErrExists", err)
	}
	var invalid *staff.InvalidError
	if _, err := svc.AddUser(ctx, "bob@example.com", "short"); !errors.As(err, &invalid) {
		t.Errorf("short password: %v", err)
	}
	users, err := svc.Users(ctx)
	if err != nil || len(users) != 1 || users[0].Email != "ann@example.com" || users[0].PasswordHash == staffPassword {
		t.Errorf("users: %+v, %v", users, err)
	}
}

func TestAuthenticateStaffAndAdmin(t *testing.T) {
	svc, _, ctx := newStaff(t)
	cases := map[string]struct {
		user, password string
		want           string
	}{
		"staff":          {"ann@example.com", staffPassword, "ann@example.com"},
		"staff any case": {" ANN@example.com", staffPassword, "ann@example.com"},
		"admin":          {"admin", "the admin password", "admin"},
		"wrong password": {"ann@example.com", "a long staff passworD", ""},
		"unknown user":   {"bob@example.com", staffPassword, ""},
		"admin wrong":    {"admin", staffPassword, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := svc.Authenticate(ctx, tc.user, tc.password, "192.0.2."+fmt.Sprint(len(name)))
			if tc.want == "" {
				if !errors.Is(err, staff.ErrBadCredentials) {
					t.Errorf("err %v, want ErrBadCredentials", err)
				}
				return
			}
			if err != nil || a.Name != tc.want {
				t.Errorf("actor %+v, err %v; want %s", a, err, tc.want)
			}
		})
	}
	noAdmin := staff.NewService(pg.NewDB(t), staff.Options{})
	if _, err := noAdmin.Authenticate(ctx, "admin", "", "192.0.2.1"); !errors.Is(err, staff.ErrBadCredentials) {
		t.Errorf("admin without ADMIN_PASSWORD: %v", err)
	}
}

func TestDisabledUserCannotSignInAndLosesSessions(t *testing.T) {
	svc, _, ctx := newStaff(t)
	a, err := svc.Authenticate(ctx, "ann@example.com", staffPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.StartSession(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DisableUser(ctx, "ANN@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "ann@example.com", staffPassword, "192.0.2.1"); !errors.Is(err, staff.ErrBadCredentials) {
		t.Errorf("disabled user: %v", err)
	}
	if _, err := svc.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
		t.Errorf("disabled user's session: %v", err)
	}
	if err := svc.DisableUser(ctx, "nobody@example.com"); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("disable unknown: %v", err)
	}
}

func TestRightPasswordDuringLockoutIsRefused(t *testing.T) {
	svc, clock, ctx := newStaff(t)
	var locked *staff.LockedError
	for i := range 300 {
		_, err := svc.Authenticate(ctx, "ann@example.com", fmt.Sprintf("guess number %d", i), "198.51.100.7")
		if err == nil {
			t.Fatalf("guess %d signed in", i)
		}
	}
	_, err := svc.Authenticate(ctx, "ann@example.com", staffPassword, "198.51.100.7")
	if !errors.As(err, &locked) {
		t.Fatalf("right password after 300 guesses: %v, want a lock-out", err)
	}
	// From another address too: the lock is on the user.
	if _, err := svc.Authenticate(ctx, "ann@example.com", staffPassword, "203.0.113.9"); !errors.As(err, &locked) {
		t.Errorf("right password from elsewhere during the lock: %v", err)
	}
	// And the address is locked for every user, admin included.
	if _, err := svc.Authenticate(ctx, "admin", "the admin password", "198.51.100.7"); !errors.As(err, &locked) {
		t.Errorf("admin from the guessing address: %v", err)
	}
	clock.Advance(locked.RetryAfter(clock.Now()))
	if a, err := svc.Authenticate(ctx, "ann@example.com", staffPassword, "203.0.113.9"); err != nil || a.Name != "ann@example.com" {
		t.Errorf("after the lock: %+v, %v", a, err)
	}
}

func TestLockoutGrowsWithEachFailure(t *testing.T) {
	svc, clock, ctx := newStaff(t)
	var waits []time.Duration
	for i := range 30 {
		// Each guess from a new address: the lock here is the user's.
		_, err := svc.Authenticate(ctx, "ann@example.com", "wrong password", fmt.Sprintf("192.0.2.%d", i))
		var locked *staff.LockedError
		switch {
		case errors.As(err, &locked):
			wait := locked.RetryAfter(clock.Now())
			waits = append(waits, wait)
			clock.Advance(wait)
		case err == nil:
			t.Fatal("a wrong password signed in")
		}
	}
	if len(waits) < 5 {
		t.Fatalf("lock-outs %v: want several", waits)
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] && waits[i] != 15*time.Minute {
			t.Errorf("lock-outs %v do not double up to their cap", waits)
		}
	}
	if last := waits[len(waits)-1]; last != 15*time.Minute {
		t.Errorf("lock-outs %v: want them capped at 15 minutes", waits)
	}
}

func TestParallelGuessesAreCountedLikeSequentialOnes(t *testing.T) {
	svc, _, ctx := newStaff(t)
	var wg sync.WaitGroup
	var checked atomic.Int32
	for i := range 40 {
		wg.Go(func() {
			_, err := svc.Authenticate(ctx, "ann@example.com", fmt.Sprintf("parallel guess %d", i), fmt.Sprintf("192.0.2.%d", i))
			if errors.Is(err, staff.ErrBadCredentials) {
				checked.Add(1)
			} else if err == nil {
				t.Error("a guess signed in")
			}
		})
	}
	wg.Wait()
	// Five free failures and the one that set the lock: nothing more is checked.
	if n := checked.Load(); n > 6 {
		t.Errorf("%d of 40 parallel guesses had their password checked, want at most 6", n)
	}
}

func TestSessionTimeouts(t *testing.T) {
	svc, clock, ctx := newStaff(t)
	a, err := svc.Authenticate(ctx, "ann@example.com", staffPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	idle, _, _ := svc.StartSession(ctx, a)
	busy, _, _ := svc.StartSession(ctx, a)
	if got, err := svc.Session(ctx, busy); err != nil || got.Name != "ann@example.com" || got.Via != staff.ViaSession {
		t.Fatalf("fresh session: %+v, %v", got, err)
	}
	// The busy one is used every 20 minutes; the idle one is left alone.
	for elapsed := 20 * time.Minute; elapsed < staff.AbsoluteTimeout; elapsed += 20 * time.Minute {
		clock.Advance(20 * time.Minute)
		if _, err := svc.Session(ctx, busy); err != nil {
			t.Fatalf("busy session after %s: %v", elapsed, err)
		}
	}
	if _, err := svc.Session(ctx, idle); !errors.Is(err, staff.ErrNoSession) {
		t.Errorf("idle session after hours: %v", err)
	}
	clock.Advance(20 * time.Minute)
	if _, err := svc.Session(ctx, busy); !errors.Is(err, staff.ErrNoSession) {
		t.Errorf("busy session past the absolute timeout: %v", err)
	}
	other, _, _ := svc.StartSession(ctx, a)
	clock.Advance(staff.IdleTimeout - time.Second)
	if _, err := svc.Session(ctx, other); err != nil {
		t.Errorf("session just within the idle timeout: %v", err)
	}
	if err := svc.EndSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Session(ctx, other); !errors.Is(err, staff.ErrNoSession) {
		t.Errorf("session after sign-out: %v", err)
	}
	for _, bad := range []string{"", "not-a-token", string(make([]byte, 500))} {
		if _, err := svc.Session(ctx, bad); !errors.Is(err, staff.ErrNoSession) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	db := pg.NewDB(t)
	svc := staff.NewService(db, staff.Options{})
	ctx := context.Background()
	if err := svc.Record(ctx, "charge", "pm_1", 1099, "usd", ""); !errors.Is(err, staff.ErrNoActor) {
		t.Errorf("record without an actor: %v, want ErrNoActor", err)
	}
	actx := staff.WithActor(ctx, staff.Actor{Name: "ann@example.com", Address: "192.0.2.1"})
	if err := svc.Record(actx, "charge", "pm_1", 1099, "usd", "attempt 1"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Record(actx, "card.detach", "pm_2", 0, "", ""); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE audit_log SET actor = 'someone else'`,
		`UPDATE audit_log SET amount = 1 WHERE id = 1`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE id = 1`,
		`TRUNCATE audit_log`,
	} {
		if _, err := db.Pool().Exec(ctx, sql); err == nil {
			t.Errorf("%s: accepted", sql)
		}
	}
	entries, err := svc.Audit(ctx, 0)
	if err != nil || len(entries) != 2 {
		t.Fatalf("entries %+v, %v", entries, err)
	}
	first := entries[1]
	if first.Actor != "ann@example.com" || first.ActorAddress != "192.0.2.1" || first.Amount != 1099 || first.Currency != "usd" || first.Detail != "attempt 1" {
		t.Errorf("first row changed or wrong: %+v", first)
	}
	if entries[0].Action != "card.detach" || entries[0].Currency != "" {
		t.Errorf("newest row: %+v", entries[0])
	}
}

func TestAuditPagesByKeyset(t *testing.T) {
	db := pg.NewDB(t)
	svc := staff.NewService(db, staff.Options{})
	ctx := staff.WithActor(context.Background(), staff.Actor{Name: "admin"})
	for i := range staff.AuditPageSize + 3 {
		if err := svc.Record(ctx, "event.replay", fmt.Sprintf("evt_%d", i), 0, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	page1, err := svc.Audit(ctx, 0)
	if err != nil || len(page1) != staff.AuditPageSize || page1[0].Target != fmt.Sprintf("evt_%d", staff.AuditPageSize+2) {
		t.Fatalf("first page: %d rows, %v", len(page1), err)
	}
	page2, err := svc.Audit(ctx, page1[len(page1)-1].ID)
	if err != nil || len(page2) != 3 || page2[2].Target != "evt_0" {
		t.Errorf("second page: %+v, %v", page2, err)
	}
}

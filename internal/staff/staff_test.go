package staff

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLockoutGrowsThenStops(t *testing.T) {
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {freeFailures, 0},
		{freeFailures + 1, time.Second},
		{freeFailures + 2, 2 * time.Second},
		{freeFailures + 3, 4 * time.Second},
		{freeFailures + 10, 512 * time.Second},
		{freeFailures + 11, maxLockout},
		{300, maxLockout},
	}
	for _, tc := range cases {
		if got := lockout(tc.failures); got != tc.want {
			t.Errorf("lockout(%d) = %s, want %s", tc.failures, got, tc.want)
		}
	}
	if forgetAfter <= maxLockout {
		t.Error("waiting out a lock must not forget the failures")
	}
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := hashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id in PHC format", h)
	}
	if h == hashPassword("correct horse battery staple") {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !verifyPassword(h, "correct horse battery staple") {
		t.Error("the right password is refused")
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple"} {
		if verifyPassword(h, wrong) {
			t.Errorf("%q accepted", wrong)
		}
	}
	for _, broken := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$aGFzaA", strings.Replace(h, "$argon2id$", "$argon2i$", 1)} {
		if verifyPassword(broken, "correct horse battery staple") {
			t.Errorf("malformed hash %q accepted", broken)
		}
	}
}

func TestAddressKeyGroupsIPv6ByPrefix(t *testing.T) {
	cases := map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::ffff":   "2001:db8:1:2::/64",
		"not an address":       "not an address",
	}
	for in, want := range cases {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	good := map[string]string{" Ann@Example.COM ": "ann@example.com", "b.c+d@shop.example": "b.c+d@shop.example"}
	for in, want := range good {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "admin", "a@b", "@example.com", "a@@example.com", "a b@example.com", "a@example.com.", "a\u202e@example.com", strings.Repeat("a", 250) + "@example.com"} {
		if _, err := NormalizeEmail(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	cases := map[string]bool{
		"":                           false,
		"elevenchars":                false,
		"twelve chars":               true,
		"ünïcödé-twelve":             true,
		strings.Repeat("x", 1025):    false,
		"\xff\xfe invalid utf8 here": false,
	}
	for p, ok := range cases {
		if err := CheckPassword(p); (err == nil) != ok {
			t.Errorf("CheckPassword(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

func TestLockedErrorRetryAfterRoundsUp(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[time.Duration]time.Duration{0: time.Second, 300 * time.Millisecond: time.Second, 1500 * time.Millisecond: 2 * time.Second, time.Minute: time.Minute}
	for left, want := range cases {
		if got := (&LockedError{Until: now.Add(left)}).RetryAfter(now); got != want {
			t.Errorf("%s left: Retry-After %s, want %s", left, got, want)
		}
	}
}

func TestCleanNameIsStorable(t *testing.T) {
	cases := map[string]string{
		" Ann@Example.com ": "ann@example.com",
		"a\x00b":            "a\uFFFDb",
		"\xff\xfeadmin":     "\uFFFDadmin",
		"x\u202ey":          "x\uFFFDy",
	}
	for in, want := range cases {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
	long := cleanName(strings.Repeat("é", 400))
	if n := len([]rune(long)); n != 254 || !utf8.ValidString(long) {
		t.Errorf("a long name is cut to %d runes, valid %v", n, utf8.ValidString(long))
	}
}

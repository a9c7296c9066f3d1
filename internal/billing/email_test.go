package billing

import (
	"errors"
	"net"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalizeEmail(t *testing.T) {
	cases := map[string]struct {
		in, want string
		ok       bool
	}{
		"plain":              {"ann@example.com", "ann@example.com", true},
		"upper case":         {"Ann@Example.COM", "ann@example.com", true},
		"surrounding spaces": {"  ann@example.com\t", "ann@example.com", true},
		"plus tag":           {"ann+shop@example.co.uk", "ann+shop@example.co.uk", true},
		"empty":              {"", "", false},
		"spaces only":        {"   ", "", false},
		"no at":              {"ann.example.com", "", false},
		"no domain dot":      {"ann@localhost", "", false},
		"display name":       {"Ann <ann@example.com>", "", false},
		"two ats":            {"a@b@example.com", "", false},
		"trailing dot":       {"ann@example.com.", "", false},
		"double dot domain":  {"ann@example..com", "", false},
		"too long":           {strings.Repeat("a", 250) + "@example.com", "", false},
		"newline injection":  {"ann@example.com\nBcc: x@example.com", "", false},
		"bidi override":      {"ann\u202e@example.com", "", false},
		"bidi in domain":     {"ann@exa\u202emple.com", "", false},
		"zero-width space":   {"ann\u200b@example.com", "", false},
		"NUL":                {"ann\x00@example.com", "", false},
		"invalid UTF-8":      {"ann\xff@example.com", "", false},
		"IP literal":         {"ann@[127.0.0.1]", "", false},
		"bare IPv4":          {"ann@10.0.0.1", "", false},
		"IPv6 literal":       {"ann@[IPv6:::1]", "", false},
		"underscore host":    {"ann@ex_ample.com", "", false},
		"leading hyphen":     {"ann@-example.com", "", false},
		"trailing hyphen":    {"ann@example-.com", "", false},
		"label too long":     {"ann@" + strings.Repeat("a", 64) + ".com", "", false},
		"numeric TLD":        {"ann@example.123", "", false},
		"inner hyphen":       {"ann@my-shop.example", "ann@my-shop.example", true},
		"international host": {"ann@bücher.de", "ann@bücher.de", true},
		"digits in host":     {"ann@123.example.com", "ann@123.example.com", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			var invalid *InvalidError
			if !errors.As(err, &invalid) || invalid.Field != "email" || invalid.Message == "" {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want an InvalidError for email", tc.in, got, err)
			}
		})
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", "A@B.CO", "", "<a@b.c>", "a@b", "\"q\"@example.com",
		"ann\u202e@example.com", "a@[127.0.0.1]", "a@10.0.0.1", "ann@bücher.de", "a@-x.com", "a@x\xff.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeEmail(in)
		if err != nil {
			return
		}
		if got != strings.ToLower(got) || len(got) > maxEmailLength || !strings.Contains(got, "@") {
			t.Errorf("NormalizeEmail(%q) = %q: not a normalised address", in, got)
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) {
			t.Errorf("NormalizeEmail(%q) = %q: holds characters that are not text", in, got)
		}
		if domain := got[strings.LastIndexByte(got, '@')+1:]; net.ParseIP(strings.Trim(domain, "[]")) != nil {
			t.Errorf("NormalizeEmail(%q) = %q: an IP address is not a mail domain", in, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Errorf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
	})
}

func TestValidSessionID(t *testing.T) {
	cases := map[string]bool{
		"cs_test_a1B2c3":                      true,
		"cs_live_a1B2c3":                      true,
		"":                                    false,
		"cs_test_":                            false,
		"pi_123":                              false,
		"cs_test_abc'; DROP TABLE x":          false,
		"cs_test_" + strings.Repeat("a", 251): false,
	}
	for id, want := range cases {
		if got := ValidSessionID(id); got != want {
			t.Errorf("ValidSessionID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestCustomerIdempotencyKeyIsStablePerEmail(t *testing.T) {
	a, b := CustomerIdempotencyKey("ann@example.com", 0), CustomerIdempotencyKey("ann@example.com", 0)
	if a != b || a == CustomerIdempotencyKey("bo@example.com", 0) || len(a) > 255 {
		t.Errorf("keys %q %q: want equal for one email, different across emails, at most 255 chars", a, b)
	}
	// After a customer.deleted the next create must not replay the deleted Customer.
	if again := CustomerIdempotencyKey("ann@example.com", 1); again == a || again == CustomerIdempotencyKey("ann@example.com", 2) {
		t.Errorf("key of generation 1 %q: want it to differ from generations 0 and 2", again)
	}
}

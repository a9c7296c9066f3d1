package shop

import (
	"errors"
	"strings"
	"testing"

	"github.com/storefront/storefront/internal/billing"
)

// FuzzParseQuantity: any text is a quantity from 1 to MaxQuantity or a
// message for the person who typed it, never a panic or another error.
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"1", "99", "0", "-1", "1e2", "٣", " 7 ", "99999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := parseQuantity(in)
		var invalid *billing.InvalidError
		switch {
		case err == nil && (q < 1 || q > MaxQuantity):
			t.Fatalf("parseQuantity(%q) = %d", in, q)
		case err != nil && (!errors.As(err, &invalid) || invalid.Message == ""):
			t.Fatalf("parseQuantity(%q) = %v, want a message", in, err)
		}
	})
}

// FuzzOrderToken: no altered or made-up token names an order, and every
// token the shop makes names its own.
func FuzzOrderToken(f *testing.F) {
	s := NewService(nil, nil, Options{LinkKey: []byte("0123456789abcdef0123456789abcdef")})
	f.Add(int64(1042), s.orderToken(1042))
	f.Add(int64(1), "AAAAAAAAAAE.AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, id int64, token string) {
		if got, ok := s.verifyOrderToken(s.orderToken(id)); !ok || got != id {
			t.Fatalf("the token of %d verifies as %d, %v", id, got, ok)
		}
		if got, ok := s.verifyOrderToken(token); ok && token != s.orderToken(got) {
			t.Fatalf("%q is accepted for order %d but is not its token", token, got)
		}
		if strings.ContainsAny(s.orderToken(id), "/?#") {
			t.Fatalf("token %q does not fit a path segment", s.orderToken(id))
		}
	})
}

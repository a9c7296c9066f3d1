package billing

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// The parsers below take text from strangers (query strings, links). Each
// target states what must hold for every input: no panic, a rejection is the
// error the caller turns into a 400 or a "link not valid" page, never a 500.
// The amount and email targets live beside their tests.

func FuzzParseListCursor(f *testing.F) {
	f.Add("2026-01-02T03:04:05.123456Z", "pm_1abc")
	f.Add("", "")
	f.Add("0001-01-01T00:00:00Z", "pm_x")
	f.Add("2026-01-02T03:04:05Z", "pm_\xff")
	f.Add("2026-13-02T03:04:05Z", "")
	f.Fuzz(func(t *testing.T, before, beforeID string) {
		at, id, err := ParseListCursor(before, beforeID)
		if err != nil {
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("ParseListCursor(%q, %q): %v is not an InvalidError", before, beforeID, err)
			}
			return
		}
		if id != "" && !ValidPaymentMethodID(id) {
			t.Fatalf("accepted cursor id %q", id)
		}
		if !at.IsZero() && (at.Year() < 2000 || at.Year() > 9999) {
			t.Fatalf("accepted cursor time %v", at)
		}
	})
}

// FuzzListQueries: the payments and events lists' filters and cursors
// are read from the URL; anything is refused with an InvalidError or read
// into a query within the bounds the lists' SQL assumes.
func FuzzListQueries(f *testing.F) {
	f.Add("declined", "2026-03-01", "2026-03-31", "2026-01-02T03:04:05.123456Z", "42")
	f.Add("", "", "", "", "")
	f.Add("failed", "2026-02-30", "x", "0001-01-01T00:00:00Z", "evt_1")
	f.Add("payment_intent.succeeded", "applied", "failed", "2026-01-02T03:04:05Z", "evt_1abc")
	f.Fuzz(func(t *testing.T, a, b, c, d, e string) {
		var invalid *InvalidError
		p, err := ParsePaymentQuery(a, b, c, d, e)
		if err != nil && !errors.As(err, &invalid) {
			t.Fatalf("ParsePaymentQuery: %v is not an InvalidError", err)
		}
		if err == nil && ((p.Status != "" && !validPaymentStatus(p.Status)) || p.BeforeID < 0 ||
			(!p.From.IsZero() && !p.Until.IsZero() && !p.From.Before(p.Until)) || (p.BeforeID == 0) != p.Before.IsZero()) {
			t.Fatalf("ParsePaymentQuery accepted %+v", p)
		}
		q, err := ParseEventQuery(a, b, c, d, e)
		if err != nil && !errors.As(err, &invalid) {
			t.Fatalf("ParseEventQuery: %v is not an InvalidError", err)
		}
		if err == nil && ((q.State != "" && !validEventState(q.State)) || (q.BeforeID != "" && !ValidEventID(q.BeforeID)) ||
			(q.Type != "" && !eventTypePattern.MatchString(q.Type))) {
			t.Fatalf("ParseEventQuery accepted %+v", q)
		}
	})
}

func FuzzRecoveryToken(f *testing.F) {
	s := &Service{links: NewLinkSigner([]byte("fuzz key"), ""), now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	valid := s.recoveryToken(42, s.now().Add(time.Hour))
	f.Add(valid)
	f.Add(valid + "x")
	f.Add(strings.Replace(valid, ".", "", 1))
	f.Add("")
	f.Add(".")
	f.Add("AAAAAAAAACoAAAAAa5Jxew.")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := s.verifyRecoveryToken(token)
		switch {
		case err == nil:
			// Only a token this key signed verifies: re-signing gives it back.
			if s.recoveryToken(id, time.Unix(expiryOf(t, token), 0)) != token {
				t.Fatalf("token %q verified as attempt %d but was not signed by the key", token, id)
			}
		case !errors.Is(err, ErrLinkInvalid) && !errors.Is(err, ErrLinkExpired):
			t.Fatalf("verifyRecoveryToken(%q): unexpected error %v", token, err)
		}
	})
}

func expiryOf(t *testing.T, token string) int64 {
	t.Helper()
	payload, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(raw) != 16 {
		t.Fatalf("verified token %q has no readable payload", token)
	}
	return int64(binary.BigEndian.Uint64(raw[8:]))
}

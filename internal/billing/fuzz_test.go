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

func FuzzRecoveryToken(f *testing.F) {
	s := &Service{recoveryKey: []byte("fuzz key"), now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
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

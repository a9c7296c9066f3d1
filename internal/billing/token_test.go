package billing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"
)

// TestLinkTokensKeepTheirFormat: links already emailed must keep opening,
// so each kind's token is spelled as it always was, built here by hand:
// base64url(purpose | id | expiry) "." base64url(HMAC-SHA256(key, that)[:16]).
func TestLinkTokensKeepTheirFormat(t *testing.T) {
	key := []byte("a key")
	now := time.Unix(1_800_000_000, 0)
	s := &Service{links: NewLinkSigner(key, ""), now: func() time.Time { return now }}
	expires := now.Add(time.Hour)
	for _, tc := range []struct {
		name    string
		purpose []byte
	}{{"recovery", recoveryTokenPurpose}, {"card", cardTokenPurpose}, {"manage", manageTokenPurpose}} {
		payload := binary.BigEndian.AppendUint64(append([]byte(nil), tc.purpose...), 42)
		payload = binary.BigEndian.AppendUint64(payload, uint64(expires.Unix()))
		mac := hmac.New(sha256.New, key)
		mac.Write(payload)
		want := base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
		if got := s.signedToken(tc.purpose, 42, expires); got != want {
			t.Errorf("%s token %q, want %q", tc.name, got, want)
		}
		if id, err := s.verifySignedToken(tc.purpose, want); err != nil || id != 42 {
			t.Errorf("%s token opens as %d, %v", tc.name, id, err)
		}
	}
	if _, err := s.verifySignedToken(cardTokenPurpose, s.signedToken(manageTokenPurpose, 42, expires)); err != ErrLinkInvalid {
		t.Errorf("a manage token opened as a card token: %v", err)
	}
	if _, ok := NewLinkSigner(nil, "").Open(s.signedToken(recoveryTokenPurpose, 42, expires), 16); ok {
		t.Error("a signer without a key opened a token")
	}
}

package billing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"strings"
	"time"
)

// The purposes of signed links. A purpose is part of the signed payload, so
// a token made for one kind of link never opens another. Recovery links
// have none: they were made before there were other kinds, and links
// already sent must keep working.
var (
	recoveryTokenPurpose = []byte{}
	cardTokenPurpose     = []byte("card")
	manageTokenPurpose   = []byte("manage")
)

// signedToken is base64url(purpose | id | expiry) "." base64url(HMAC), so a
// link names its object and expiry and cannot be altered or forged.
func (s *Service) signedToken(purpose []byte, id int64, expires time.Time) string {
	payload := make([]byte, len(purpose)+16)
	copy(payload, purpose)
	binary.BigEndian.PutUint64(payload[len(purpose):], uint64(id))
	binary.BigEndian.PutUint64(payload[len(purpose)+8:], uint64(expires.Unix()))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.sign(payload))
}

func (s *Service) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, s.recoveryKey)
	mac.Write(payload)
	return mac.Sum(nil)[:16]
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$`)

// verifySignedToken returns the id a token of this purpose names, if its
// signature holds and it has not expired.
func (s *Service) verifySignedToken(purpose []byte, token string) (int64, error) {
	id, _, err := s.readSignedToken(purpose, token)
	return id, err
}

// readSignedToken is verifySignedToken that also tells when the token expires.
func (s *Service) readSignedToken(purpose []byte, token string) (int64, time.Time, error) {
	// One spelling per token, so a link cannot be varied and still work:
	// base64 decoding alone skips newlines and tolerates stray bits.
	size := len(purpose) + 16
	if !tokenPattern.MatchString(token) || strings.IndexByte(token, '.') != base64.RawURLEncoding.EncodedLen(size) {
		return 0, time.Time{}, ErrLinkInvalid
	}
	encoded, sig, _ := strings.Cut(token, ".")
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(encoded)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != size || string(payload[:len(purpose)]) != string(purpose) ||
		len(s.recoveryKey) == 0 || !hmac.Equal(mac, s.sign(payload)) {
		return 0, time.Time{}, ErrLinkInvalid
	}
	id := int64(binary.BigEndian.Uint64(payload[len(purpose):]))
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload[len(purpose)+8:])), 0)
	if s.now().After(expires) {
		return 0, time.Time{}, ErrLinkExpired
	}
	return id, expires, nil
}

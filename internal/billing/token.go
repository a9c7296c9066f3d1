package billing

import (
	"bytes"
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

// signedToken is base64url(purpose | id | expiry) "." its signature, so a
// link names its object and expiry and cannot be altered or forged.
func (s *Service) signedToken(purpose []byte, id int64, expires time.Time) string {
	payload := make([]byte, len(purpose)+16)
	copy(payload, purpose)
	binary.BigEndian.PutUint64(payload[len(purpose):], uint64(id))
	binary.BigEndian.PutUint64(payload[len(purpose)+8:], uint64(expires.Unix()))
	return s.links.Seal(payload)
}

// verifySignedToken returns the id a token of this purpose names, if its
// signature holds and it has not expired.
func (s *Service) verifySignedToken(purpose []byte, token string) (int64, error) {
	id, _, err := s.readSignedToken(purpose, token)
	return id, err
}

// readSignedToken is verifySignedToken that also tells when the token expires.
func (s *Service) readSignedToken(purpose []byte, token string) (int64, time.Time, error) {
	payload, ok := s.links.Open(token, len(purpose)+16)
	if !ok || !bytes.HasPrefix(payload, purpose) {
		return 0, time.Time{}, ErrLinkInvalid
	}
	id := int64(binary.BigEndian.Uint64(payload[len(purpose):]))
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload[len(purpose)+8:])), 0)
	if s.now().After(expires) {
		return 0, time.Time{}, ErrLinkExpired
	}
	return id, expires, nil
}

// A LinkSigner seals a payload of fixed size into the token of a link,
// base64url(payload) "." base64url(HMAC-SHA256(key, domain | payload)),
// cut to 16 bytes, and opens it again. The domain goes into the signature
// only, so a token made for one signer's links never opens another's.
type LinkSigner struct {
	key    []byte
	domain []byte
}

// NewLinkSigner returns a LinkSigner; with no key, every token it opens is
// refused, so a missing secret fails closed.
func NewLinkSigner(key []byte, domain string) LinkSigner {
	return LinkSigner{key: key, domain: []byte(domain)}
}

// Seal returns the token of payload.
func (l LinkSigner) Seal(payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(l.sign(payload))
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$`)

// Open returns the payload of size bytes a token seals, if its signature
// holds. One spelling per token, so a link cannot be varied and still work:
// base64 decoding alone skips newlines and tolerates stray bits.
func (l LinkSigner) Open(token string, size int) ([]byte, bool) {
	if len(l.key) == 0 || !tokenPattern.MatchString(token) || strings.IndexByte(token, '.') != base64.RawURLEncoding.EncodedLen(size) {
		return nil, false
	}
	encoded, sig, _ := strings.Cut(token, ".")
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(encoded)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != size || !hmac.Equal(mac, l.sign(payload)) {
		return nil, false
	}
	return payload, true
}

func (l LinkSigner) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, l.key)
	mac.Write(l.domain)
	mac.Write(payload)
	return mac.Sum(nil)[:16]
}

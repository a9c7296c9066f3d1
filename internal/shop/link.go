package shop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"strings"
)

// OrderLink is the signed link to an order's page for its customer:
// /orders/{token}. It does not expire: the customer may look an order up
// as long as the shop keeps it.
func (s *Service) OrderLink(orderID int64) string {
	return s.baseURL + "/orders/" + s.orderToken(orderID)
}

// orderToken is base64url(order id) "." base64url(HMAC), so a link names its
// order and cannot be altered to name another.
func (s *Service) orderToken(orderID int64) string {
	payload := make([]byte, 8)
	binary.BigEndian.PutUint64(payload, uint64(orderID))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.sign(payload))
}

func (s *Service) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, s.linkKey)
	mac.Write([]byte("order|"))
	mac.Write(payload)
	return mac.Sum(nil)[:16]
}

var orderTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}$`)

// verifyOrderToken returns the order a token names, if its signature holds.
func (s *Service) verifyOrderToken(token string) (int64, bool) {
	if !orderTokenPattern.MatchString(token) || len(s.linkKey) == 0 {
		return 0, false
	}
	encoded, sig, _ := strings.Cut(token, ".")
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(encoded)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != 8 || !hmac.Equal(mac, s.sign(payload)) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(payload)), true
}

package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FlashKeyName names the shared secret that signs flash messages, so that
// any replica can show the message another one set.
const FlashKeyName = "web.flash_key"

// flashCookie carries the message an action leaves for the page it returns
// to: written by the server only (signed, with its expiry), shown once.
const (
	flashCookie = "storefront_flash"
	flashAge    = time.Minute
)

// setFlash leaves message for the next page this browser opens.
func (s *Server) setFlash(w http.ResponseWriter, message string) {
	payload := strconv.FormatInt(time.Now().Add(flashAge).Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString([]byte(message))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: payload + "." + s.flashMAC(payload), Path: "/",
		MaxAge: int(flashAge.Seconds()), HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the message left for this page, if it is ours and
// fresh, and clears it so that a reload does not show it again.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode})
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 || !hmac.Equal([]byte(c.Value[i+1:]), []byte(s.flashMAC(c.Value[:i]))) {
		return ""
	}
	expiry, message, _ := strings.Cut(c.Value[:i], ".")
	until, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || time.Now().Unix() > until {
		return ""
	}
	text, err := base64.RawURLEncoding.DecodeString(message)
	if err != nil || !utf8.Valid(text) {
		return ""
	}
	return string(text)
}

func (s *Server) flashMAC(payload string) string {
	mac := hmac.New(sha256.New, s.flashKey)
	mac.Write([]byte(flashCookie + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

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

// flash is what an action says on the page it returns to; Warn marks an
// outcome that went wrong (a declined charge), shown as a warning.
type flash struct {
	Text string
	Warn bool
}

// said is the message of an action that did what it was asked.
func said(text string) flash { return flash{Text: text} }

// warning is the message of an action whose outcome went wrong.
func warning(text string) flash { return flash{Text: text, Warn: true} }

// setFlash leaves a message for the next page this browser opens.
func (s *Server) setFlash(w http.ResponseWriter, f flash) {
	kind := "i"
	if f.Warn {
		kind = "w"
	}
	payload := strconv.FormatInt(time.Now().Add(flashAge).Unix(), 10) + "." + kind + "." + base64.RawURLEncoding.EncodeToString([]byte(f.Text))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: payload + "." + s.flashMAC(payload), Path: "/",
		MaxAge: int(flashAge.Seconds()), HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the message left for this page, if it is ours and
// fresh, and clears it so that a reload does not show it again.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.https, SameSite: http.SameSiteLaxMode})
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 || !hmac.Equal([]byte(c.Value[i+1:]), []byte(s.flashMAC(c.Value[:i]))) {
		return nil
	}
	parts := strings.SplitN(c.Value[:i], ".", 3)
	if len(parts) != 3 {
		return nil
	}
	until, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || time.Now().Unix() > until {
		return nil
	}
	text, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !utf8.Valid(text) {
		return nil
	}
	return &flash{Text: string(text), Warn: parts[1] == "w"}
}

func (s *Server) flashMAC(payload string) string {
	mac := hmac.New(sha256.New, s.flashKey)
	mac.Write([]byte(flashCookie + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

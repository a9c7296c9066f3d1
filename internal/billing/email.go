package billing

import (
	"net/mail"
	"strings"
)

// maxEmailLength is the longest address SMTP can carry (RFC 5321).
const maxEmailLength = 254

// NormalizeEmail validates a bare email address and returns it lower-cased,
// which is how customers are keyed: one customer per address, whatever its case.
func NormalizeEmail(raw string) (string, error) {
	email := strings.TrimSpace(raw)
	if email == "" {
		return "", Invalid("email", "Enter your email address.")
	}
	if len(email) > maxEmailLength {
		return "", Invalid("email", "That email address is too long.")
	}
	addr, err := mail.ParseAddress(email)
	// ParseAddress also accepts "Name <a@b>" and comments; only the bare form is an email field's value.
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", Invalid("email", "Enter a valid email address, like name@example.com.")
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", Invalid("email", "Enter a valid email address, like name@example.com.")
	}
	return strings.ToLower(email), nil
}

package billing

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
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
	// Control and format characters (a NUL, a right-to-left override) make
	// an address that reads as another one in the admin and in emails.
	if !utf8.ValidString(email) || strings.IndexFunc(email, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) >= 0 {
		return "", Invalid("email", "Enter a valid email address, like name@example.com.")
	}
	addr, err := mail.ParseAddress(email)
	// ParseAddress also accepts "Name <a@b>" and comments; only the bare form is an email field's value.
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", Invalid("email", "Enter a valid email address, like name@example.com.")
	}
	at := strings.LastIndexByte(email, '@')
	if !validMailDomain(email[at+1:]) {
		return "", Invalid("email", "Enter a valid email address, like name@example.com.")
	}
	return strings.ToLower(email), nil
}

// validMailDomain accepts a host name of at least two labels: letters
// (international ones too), digits and inner hyphens, at most 63 bytes a
// label, and a top-level label that is not a number, which rules out IP
// addresses, bracketed or not.
func validMailDomain(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || len(domain) > 253 {
		return false
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.IndexFunc(tld, func(r rune) bool { return !unicode.IsDigit(r) }) >= 0
}

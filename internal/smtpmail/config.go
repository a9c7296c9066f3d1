package smtpmail

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Config says where and how to deliver mail. ParseURL builds one from
// SMTP_URL; its String method never shows the password.
type Config struct {
	Host string
	Port int
	// TLS is how the connection is secured.
	TLS TLSMode
	// Username and Password, when set, log in with the strongest mechanism
	// the server offers (see Sender).
	Username string
	Password string
	// From is the sender address, such as shop@example.com or
	// "Shop <shop@example.com>"; DefaultFrom when empty.
	From string
}

// TLSMode is how a connection to the mail server is secured.
type TLSMode string

// TLS modes.
const (
	// TLSStartTLS (smtp://): plain at first, then STARTTLS, which the server
	// must offer: a server without it is refused, so that nobody on the path
	// can strip it and read the payment links.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit (smtps://): TLS from the first byte.
	TLSImplicit TLSMode = "implicit"
	// TLSNone (smtp://...?tls=none): no encryption at all, allowed only to a
	// loopback host (a relay or mail catcher on this machine).
	TLSNone TLSMode = "none"
)

// DefaultFrom is the sender when SMTP_URL names none.
const DefaultFrom = "storefront@localhost"

// Default ports: submission with STARTTLS, and submissions with implicit TLS
// (RFC 8314).
const (
	DefaultPort    = 587
	DefaultTLSPort = 465
)

// String describes c for logs with the password redacted, so that printing
// a Config with %v or slog never leaks it.
func (c Config) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.TLS == TLSImplicit {
		u.Scheme = "smtps"
	}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, "xxxxx")
	}
	q := url.Values{}
	if c.From != "" {
		q.Set("from", c.From)
	}
	if c.TLS == TLSNone {
		q.Set("tls", "none")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// optionName is what a query key must look like before an error may quote
// it; anything else could be a piece of a mis-encoded password.
var optionName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)

// misencoded explains the usual cause of a URL we cannot make sense of,
// without quoting the URL, which may hold a password.
const misencoded = "percent-encode any '/', '?', '#', '%' or ':' in the user name or password"

// ParseURL parses SMTP_URL, in the form
//
//	smtp://[user:password@]host[:port][?from=shop@example.com]
//	smtps://[user:password@]host[:port][?from=...]
//	smtp://host[:port]?tls=none[&from=...]     (loopback hosts only)
//
// smtp:// defaults to port 587 and requires STARTTLS; smtps:// defaults to
// port 465 and speaks TLS from the start; tls=none speaks plain SMTP, and
// only to this machine. from defaults to DefaultFrom. It reports every
// problem, one per line, and never quotes the password.
func ParseURL(raw string) (Config, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Config{}, errors.New("SMTP_URL: is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, and its own message can quote a piece
		// of a password that holds a '/' or '#'; only quote it when there
		// is no user info at all.
		var uerr *url.Error
		if !strings.Contains(raw, "@") && errors.As(err, &uerr) {
			return Config{}, fmt.Errorf("SMTP_URL: cannot be parsed: %v", uerr.Err)
		}
		return Config{}, fmt.Errorf("SMTP_URL: cannot be parsed; %s", misencoded)
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.Port = DefaultPort
		c.TLS = TLSStartTLS
	case "smtps":
		c.Port = DefaultTLSPort
		c.TLS = TLSImplicit
	default:
		return Config{}, errors.New("SMTP_URL: must start with smtp:// or smtps://")
	}
	if u.Opaque != "" {
		return Config{}, errors.New("SMTP_URL: must look like smtp://host[:port], with // after the scheme")
	}
	// A '/', '?' or '#' inside a password ends the host early and pushes
	// the '@' into the path, a query key or the fragment.
	if u.User == nil && (strings.Contains(u.Path+u.Fragment, "@") || atInQueryKey(u.RawQuery)) {
		return Config{}, fmt.Errorf("SMTP_URL: cannot be parsed; %s", misencoded)
	}

	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("SMTP_URL: "+format, args...))
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		bad("host is missing")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			bad("port must be a number from 1 to 65535")
		} else {
			c.Port = n
		}
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		switch {
		case c.Username == "":
			bad("user name is missing before the '@'")
		case c.Password == "":
			bad("password is missing for user %q (smtp://user:password@host)", c.Username)
		}
	}
	if u.Path != "" && u.Path != "/" {
		bad("unexpected path after the host; %s", misencoded)
	}
	if u.Fragment != "" {
		bad("unexpected #fragment; %s", misencoded)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		bad("query options cannot be parsed; percent-encode their values")
	}
	for _, key := range slices.Sorted(maps.Keys(query)) { // a stable order of problems
		values := query[key]
		if len(values) > 1 {
			bad("option %s is given more than once", key)
			continue
		}
		switch key {
		case "from":
			c.From = values[0]
			if _, err := parseFrom(c.From); err != nil {
				bad("from: %v", err)
			}
		case "tls":
			switch {
			case values[0] != string(TLSNone):
				bad("tls can only be none (the scheme says the rest: smtp:// is STARTTLS, smtps:// TLS from the start)")
			case c.TLS == TLSImplicit:
				bad("tls=none contradicts smtps://; use smtp://host?tls=none")
			case c.Host != "" && !isLoopback(c.Host):
				bad("tls=none is only allowed to a loopback host (localhost, 127.0.0.1, ::1): elsewhere the payment links would cross the network unencrypted")
			default:
				c.TLS = TLSNone
			}
		default:
			if optionName.MatchString(key) {
				bad("unknown option %q (known: from, tls)", key)
			} else {
				bad("unknown option (known: from, tls)")
			}
		}
	}
	if c.From == "" {
		c.From = DefaultFrom
	}
	if len(problems) > 0 {
		return Config{}, errors.Join(problems...)
	}
	return c, nil
}

// atInQueryKey tells whether an '@' sits in a query key rather than in a
// value such as from=shop@example.com.
func atInQueryKey(rawQuery string) bool {
	for part := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if strings.Contains(key, "@") {
			return true
		}
	}
	return false
}

// parseFrom checks a sender address: one address, an optional display name,
// ASCII only since we do not speak SMTPUTF8.
func parseFrom(s string) (*mail.Address, error) {
	if s == "" {
		return nil, errors.New("no sender address: add ?from=shop@example.com to SMTP_URL")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("sender address contains a line break")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("sender %q is not an email address: %w", s, err)
	}
	if !isASCII(a.Address) {
		return nil, fmt.Errorf("sender %q must be an ASCII address", s)
	}
	return a, nil
}

// isLoopback tells whether host names this machine, where an unencrypted
// connection never leaves it.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

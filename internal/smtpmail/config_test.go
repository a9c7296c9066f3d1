package smtpmail

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := map[string]struct {
		raw  string
		want Config
	}{
		"host only": {
			raw:  "smtp://mail.example.com",
			want: Config{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, From: DefaultFrom},
		},
		"port and from": {
			raw:  "smtp://mail.example.com:2525?from=shop@example.com",
			want: Config{Host: "mail.example.com", Port: 2525, TLS: TLSStartTLS, From: "shop@example.com"},
		},
		"smtps with encoded password and named sender": {
			raw: "smtps://user:p%40ss%2Fw0rd@mail.example.com?from=Shop%20%3Cshop%40example.com%3E",
			want: Config{Host: "mail.example.com", Port: 465, TLS: TLSImplicit, Username: "user", Password: "p@ss/w0rd",
				From: "Shop <shop@example.com>"},
		},
		"unencoded @ in password": {
			raw:  "smtp://user:p@ss@mail.example.com",
			want: Config{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, Username: "user", Password: "p@ss", From: DefaultFrom},
		},
		"upper-case scheme, IPv6 loopback": {
			raw:  "SMTP://[::1]:25",
			want: Config{Host: "::1", Port: 25, TLS: TLSStartTLS, From: DefaultFrom},
		},
		"spaces and trailing slash": {
			raw:  "  smtp://localhost/  ",
			want: Config{Host: "localhost", Port: 587, TLS: TLSStartTLS, From: DefaultFrom},
		},
		"no TLS to loopback": {
			raw:  "smtp://127.0.0.1:1025?tls=none&from=shop@example.com",
			want: Config{Host: "127.0.0.1", Port: 1025, TLS: TLSNone, From: "shop@example.com"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseURL(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseURL(%q)\n got %+v\nwant %+v", tc.raw, got, tc.want)
			}
			if got.Password != "" && strings.Contains(got.String(), got.Password) {
				t.Errorf("String() shows the password: %s", got)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	cases := map[string]struct {
		raw      string
		want     []string // each must appear in the error
		problems int      // lines in the error; 0 means 1
	}{
		"empty":               {raw: "", want: []string{"empty"}},
		"no scheme":           {raw: "mail.example.com:587", want: []string{"smtp:// or smtps://"}},
		"wrong scheme":        {raw: "https://mail.example.com", want: []string{"smtp:// or smtps://"}},
		"no slashes":          {raw: "smtp:mail.example.com", want: []string{"//"}},
		"no host":             {raw: "smtp://", want: []string{"host is missing"}},
		"port zero":           {raw: "smtp://mail.example.com:0", want: []string{"port"}},
		"port too big":        {raw: "smtp://mail.example.com:70000", want: []string{"port"}},
		"port not a number":   {raw: "smtp://mail.example.com:abc", want: []string{"cannot be parsed", "port"}},
		"user, no password":   {raw: "smtp://user@mail.example.com", want: []string{"password is missing", `"user"`}},
		"password, no user":   {raw: "smtp://:hunter2@mail.example.com", want: []string{"user name is missing"}},
		"bad port with creds": {raw: "smtp://user:hunter2@mail.example.com:99999", want: []string{"port"}},
		"bad from":            {raw: "smtp://user:hunter2@mail.example.com?from=nope", want: []string{"from", `"nope"`}},
		"from with newline":   {raw: "smtp://mail.example.com?from=a@example.com%0D%0ABcc:x@example.com", want: []string{"line break"}},
		"non-ASCII from":      {raw: "smtp://mail.example.com?from=j%C3%B6rg@example.com", want: []string{"ASCII"}},
		"no TLS to a remote":  {raw: "smtp://mail.example.com?tls=none", want: []string{"tls=none", "loopback"}},
		"no TLS with smtps":   {raw: "smtps://localhost?tls=none", want: []string{"contradicts"}},
		"other TLS mode":      {raw: "smtp://localhost?tls=starttls", want: []string{"tls can only be none"}},
		"insecure option":     {raw: "smtps://localhost?insecure_skip_verify=true", want: []string{`unknown option "insecure_skip_verify"`}},
		"unknown option":      {raw: "smtp://mail.example.com?form=shop@example.com", want: []string{`unknown option "form"`}},
		"option twice":        {raw: "smtp://mail.example.com?from=a@example.com&from=b@example.com", want: []string{"more than once"}},
		"path":                {raw: "smtp://mail.example.com/inbox", want: []string{"path"}},
		"fragment":            {raw: "smtp://mail.example.com#top", want: []string{"fragment"}},
		"every problem at once": {
			raw:      "smtp://:hunter2@:0?tls=maybe&colour=red",
			want:     []string{"user name is missing", "host is missing", "port", "tls", `"colour"`},
			problems: 5,
		},
		// A '/', '?', '#' or '%' in an unencoded password moves the '@'; the
		// error must explain that without quoting any piece of it.
		"slash in password":    {raw: "smtp://user:hunter/xyzzy@mail.example.com", want: []string{"percent-encode"}},
		"slash after digits":   {raw: "smtp://user:1234/xyzzy@mail.example.com", want: []string{"percent-encode"}},
		"question mark":        {raw: "smtp://user:1234?xyzzy@mail.example.com", want: []string{"percent-encode"}},
		"question mark, equal": {raw: "smtp://user:1234?q=xyzzy@mail.example.com", want: []string{"unknown option"}},
		"hash":                 {raw: "smtp://user:1234#xyzzy@mail.example.com", want: []string{"percent-encode"}},
		"hash after letters":   {raw: "smtp://user:hunter#xyzzy@mail.example.com", want: []string{"percent-encode"}},
		"bad percent":          {raw: "smtp://user:50%xyzzy@mail.example.com", want: []string{"percent-encode"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseURL(tc.raw)
			if err == nil {
				t.Fatalf("ParseURL(%q): want an error", tc.raw)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			for _, secret := range []string{"hunter", "xyzzy", "1234", "50%"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error quotes the password (%q): %s", secret, msg)
				}
			}
			want := max(tc.problems, 1)
			if lines := strings.Count(msg, "\n") + 1; lines != want {
				t.Errorf("error has %d lines, want %d:\n%s", lines, want, msg)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{
		"localhost":             true,
		"LocalHost":             true,
		"127.0.0.1":             true,
		"127.0.0.2":             true,
		"::1":                   true,
		"mail.example.com":      false,
		"localhost.example.com": false,
		"10.0.0.1":              false,
		"::ffff:10.0.0.1":       false,
		"":                      false,
	}
	for host, want := range cases {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestNewChecksTheConfig(t *testing.T) {
	good := Config{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, From: "shop@example.com"}
	cases := map[string]struct {
		cfg  Config
		want string // empty: valid
	}{
		"good":                {cfg: good},
		"default from":        {cfg: Config{Host: "localhost", Port: 25, TLS: TLSNone}},
		"bad from":            {cfg: Config{Host: "localhost", Port: 25, TLS: TLSNone, From: "not an address"}, want: "not an email address"},
		"no host":             {cfg: Config{Port: 25, TLS: TLSStartTLS}, want: "no host"},
		"no port":             {cfg: Config{Host: "localhost", TLS: TLSStartTLS}, want: "port"},
		"no TLS mode":         {cfg: Config{Host: "localhost", Port: 25}, want: "TLS mode"},
		"no TLS to a remote":  {cfg: Config{Host: "mail.example.com", Port: 25, TLS: TLSNone}, want: "loopback"},
		"user without secret": {cfg: Config{Host: "localhost", Port: 25, TLS: TLSStartTLS, Username: "u"}, want: "password"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

package smtpmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	customer = "customer@example.org"
	subject  = "Finish your payment — Grüße"
)

// body has what quoted-printable must survive: a link longer than a line,
// a line that is a lone dot, '=', trailing spaces and non-ASCII text.
var body = strings.Join([]string{
	"Hello,",
	"",
	"your payment did not go through. Finish it here:",
	"https://shop.example.com/pay/finish?session=cs_test_" + strings.Repeat("a1B2", 30) + "&x=1",
	".",
	"..and a line starting with dots",
	"Trailing spaces   ",
	"Grüße, the shop ✓",
}, "\n")

// sender parses rawURL, in which HOST stands for the fake server's address,
// and routes every dial to the fake server whatever host the URL names.
func sender(t *testing.T, f *fakeSMTP, rawURL string, opts ...Option) *Sender {
	t.Helper()
	cfg, err := ParseURL(strings.ReplaceAll(rawURL, "HOST", f.addr))
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, opts...)
	s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, f.addr)
	}
	return s
}

func TestSendDelivers(t *testing.T) {
	cases := map[string]struct {
		fake     fakeSMTP
		url      string
		wantAuth string
		wantTLS  bool
	}{
		"plain to loopback": {
			url: "smtp://HOST?from=shop@example.com",
		},
		"credentials to loopback without TLS": {
			fake:     fakeSMTP{auth: true},
			url:      "smtp://user:s3cret@HOST?from=shop@example.com",
			wantAuth: "\x00user\x00s3cret",
		},
		"STARTTLS then AUTH": {
			fake:     fakeSMTP{startTLS: true, auth: true},
			url:      "smtp://user:s3cret@HOST?from=shop@example.com&insecure_skip_verify=true",
			wantAuth: "\x00user\x00s3cret",
			wantTLS:  true,
		},
		"implicit TLS": {
			fake:     fakeSMTP{implicitTLS: true, auth: true},
			url:      "smtps://user:s3cret@HOST?from=shop@example.com&insecure_skip_verify=true",
			wantAuth: "\x00user\x00s3cret",
			wantTLS:  true,
		},
		"STARTTLS to a remote host": {
			fake:     fakeSMTP{startTLS: true, auth: true},
			url:      "smtp://user:s3cret@mail.example.com?from=shop@example.com&insecure_skip_verify=true",
			wantAuth: "\x00user\x00s3cret",
			wantTLS:  true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &tc.fake
			f.start(t)
			s := sender(t, f, tc.url, WithHELO("shop.example.com"))
			if err := s.Send(t.Context(), customer, subject, body); err != nil {
				t.Fatal(err)
			}
			got := f.next(t)

			if got.helo != "shop.example.com" {
				t.Errorf("EHLO %q", got.helo)
			}
			if got.auth != tc.wantAuth || got.tlsAtAuth != tc.wantTLS && tc.wantAuth != "" {
				t.Errorf("AUTH %q over TLS %v, want %q over TLS %v", got.auth, got.tlsAtAuth, tc.wantAuth, tc.wantTLS)
			}
			if got.tlsAtMail != tc.wantTLS {
				t.Errorf("MAIL over TLS = %v, want %v", got.tlsAtMail, tc.wantTLS)
			}
			if got.from != "shop@example.com" || !slices.Equal(got.rcpt, []string{customer}) {
				t.Errorf("envelope from %q to %q", got.from, got.rcpt)
			}
			checkMessage(t, got.data, "shop@example.com")
		})
	}
}

// checkMessage parses what the server received and compares every header
// and the decoded body with what was sent.
func checkMessage(t *testing.T, data, from string) {
	t.Helper()
	for line := range strings.Lines(data) {
		if len(line) > 78 && !strings.HasPrefix(line, "Subject:") {
			t.Errorf("line longer than 78: %q", line)
		}
	}
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, data)
	}
	h := m.Header
	var dec mime.WordDecoder
	gotSubject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Errorf("Subject %q: %v", h.Get("Subject"), err)
	}
	if gotSubject != subject {
		t.Errorf("Subject decodes to %q, want %q", gotSubject, subject)
	}
	if !strings.Contains(h.Get("Subject"), "=?utf-8?") {
		t.Errorf("non-ASCII Subject is not RFC 2047-encoded: %q", h.Get("Subject"))
	}
	if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !regexp.MustCompile(`^<[A-Z2-7]{20,}@example\.com>$`).MatchString(id) {
		t.Errorf("Message-ID %q", id)
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "text/plain" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	for name, want := range map[string]string{
		"From":                      from,
		"To":                        customer,
		"MIME-Version":              "1.0",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	decoded, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if got := strings.TrimSuffix(strings.ReplaceAll(string(decoded), "\r\n", "\n"), "\n"); got != body {
		t.Errorf("body decodes to\n%s\nwant\n%s", got, body)
	}
}

func TestBuildMessageHeaders(t *testing.T) {
	long := strings.Repeat("Zahlung abschließen ", 12)
	cases := map[string]struct {
		from, subject string
		wantFrom      string // decoded
		wantRaw       string // in the raw Subject header
	}{
		"ASCII subject stays readable": {from: "shop@example.com", subject: "Finish your payment", wantFrom: "shop@example.com", wantRaw: "Subject: Finish your payment\r\n"},
		"non-ASCII subject is encoded": {from: "shop@example.com", subject: "Grüße ✓", wantFrom: "shop@example.com", wantRaw: "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_=E2=9C=93?=\r\n"},
		"long subject is folded":       {from: "shop@example.com", subject: long, wantFrom: "shop@example.com", wantRaw: "?=\r\n =?utf-8?q?"},
		"named sender is encoded":      {from: "Läden <shop@example.com>", subject: "Hi", wantFrom: "Läden <shop@example.com>", wantRaw: "From: =?utf-8?q?L=C3=A4den?= <shop@example.com>\r\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			from, err := parseFrom(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := buildMessage(from, customer, tc.subject, "hi", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(msg), tc.wantRaw) {
				t.Errorf("message lacks %q:\n%s", tc.wantRaw, msg)
			}
			m, err := mail.ReadMessage(strings.NewReader(string(msg)))
			if err != nil {
				t.Fatal(err)
			}
			var dec mime.WordDecoder
			if got, _ := dec.DecodeHeader(m.Header.Get("Subject")); got != tc.subject {
				t.Errorf("Subject decodes to %q, want %q", got, tc.subject)
			}
			if got, _ := dec.DecodeHeader(m.Header.Get("From")); got != tc.wantFrom {
				t.Errorf("From decodes to %q, want %q", got, tc.wantFrom)
			}
			for line := range strings.Lines(string(msg)) {
				if len(line) > 998 {
					t.Errorf("line of %d octets", len(line))
				}
			}
		})
	}
}

func TestSendRefusesBadInputBeforeConnecting(t *testing.T) {
	cases := map[string]struct {
		to, subject string
		opts        []Option
		want        string
	}{
		"CRLF in recipient":     {to: "bob@example.com\r\nBcc: eve@example.net", subject: "Hi", want: "line break"},
		"LF in recipient":       {to: "bob@example.com\nBcc: eve@example.net", subject: "Hi", want: "line break"},
		"named recipient":       {to: "Bob <bob@example.com>", subject: "Hi", want: "bare address"},
		"bracketed recipient":   {to: "<bob@example.com>", subject: "Hi", want: "bare address"},
		"recipient comment":     {to: "bob@example.com (Bob)", subject: "Hi", want: "bare address"},
		"two recipients":        {to: "bob@example.com, eve@example.net", subject: "Hi", want: "not an email address"},
		"not an address":        {to: "bob", subject: "Hi", want: "not an email address"},
		"empty recipient":       {to: "", subject: "Hi", want: "not an email address"},
		"non-ASCII recipient":   {to: "jörg@example.com", subject: "Hi", want: "ASCII"},
		"CRLF in subject":       {to: customer, subject: "Hi\r\nBcc: eve@example.net", want: "subject contains a line break"},
		"LF in subject":         {to: customer, subject: "Hi\nBcc: eve@example.net", want: "subject contains a line break"},
		"CR in subject":         {to: customer, subject: "Hi\rBcc: eve@example.net", want: "subject contains a line break"},
		"CRLF in sender":        {to: customer, subject: "Hi", opts: []Option{WithFrom("shop@example.com\r\nBcc: eve@example.net")}, want: "line break"},
		"no sender":             {to: customer, subject: "Hi", opts: []Option{WithFrom("")}, want: "no sender address"},
		"sender is no address":  {to: customer, subject: "Hi", opts: []Option{WithFrom("shop")}, want: "not an email address"},
		"HELO carries commands": {to: customer, subject: "Hi", opts: []Option{WithHELO("x\r\nRCPT TO:<eve@example.net>")}, want: "HELO"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := New(Config{Host: "127.0.0.1", Port: 25, From: "shop@example.com"}, tc.opts...)
			s.dial = func(context.Context, string, string) (net.Conn, error) {
				t.Error("Send connected despite bad input")
				return nil, errors.New("no")
			}
			err := s.Send(t.Context(), tc.to, tc.subject, "body")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "bob@") {
				t.Errorf("error quotes the recipient: %v", err)
			}
		})
	}
}

func TestSendGivesUpOnSilentServer(t *testing.T) {
	cases := map[string]struct {
		ctx  func(t *testing.T) context.Context
		opts []Option
		want error
	}{
		"context deadline": {
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded,
		},
		"context cancelled": {
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(200*time.Millisecond, cancel)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.Canceled,
		},
		"sender timeout": {
			ctx:  func(t *testing.T) context.Context { return t.Context() },
			opts: []Option{WithTimeout(200 * time.Millisecond)},
			want: context.DeadlineExceeded,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSMTP{silent: true}
			f.start(t)
			s := sender(t, f, "smtp://HOST?from=shop@example.com", tc.opts...)
			start := time.Now()
			err := s.Send(tc.ctx(t), customer, "Hi", "body")
			if !errors.Is(err, tc.want) {
				t.Errorf("Send = %v, want %v", err, tc.want)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("Send took %v to give up", elapsed)
			}
		})
	}
}

func TestSendRefusesPlaintextToRemoteHost(t *testing.T) {
	cases := map[string]string{
		"with credentials":    "smtp://user:s3cret@mail.example.com?from=shop@example.com",
		"without credentials": "smtp://mail.example.com?from=shop@example.com",
	}
	for name, rawURL := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeSMTP{auth: true} // no STARTTLS, as after a downgrade
			f.start(t)
			err := sender(t, f, rawURL).Send(t.Context(), customer, "Hi", "body")
			if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
				t.Fatalf("Send = %v, want a refusal that names STARTTLS", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error quotes the password: %v", err)
			}
			if got := f.next(t); slices.Contains(got.commands, "AUTH") || slices.Contains(got.commands, "MAIL") {
				t.Errorf("server saw %v", got.commands)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	cases := map[string]struct {
		fake fakeSMTP
		url  string
		want string
	}{
		"unknown certificate": {
			fake: fakeSMTP{implicitTLS: true},
			url:  "smtps://HOST?from=shop@example.com",
			want: "certificate",
		},
		"unknown certificate on STARTTLS": {
			fake: fakeSMTP{startTLS: true},
			url:  "smtp://HOST?from=shop@example.com",
			want: "certificate",
		},
		"credentials but no AUTH": {
			url:  "smtp://user:s3cret@HOST?from=shop@example.com",
			want: "does not offer AUTH",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &tc.fake
			f.start(t)
			err := sender(t, f, tc.url).Send(t.Context(), customer, "Hi", "body")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error mentioning %q", err, tc.want)
			}
			if got := f.next(t); slices.Contains(got.commands, "MAIL") {
				t.Errorf("server saw %v", got.commands)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	cfg, err := ParseURL(fmt.Sprintf("smtp://127.0.0.1:%d?from=shop@example.com", addr.Port))
	if err != nil {
		t.Fatal(err)
	}
	err = New(cfg).Send(t.Context(), customer, "Hi", "body")
	if err == nil || !strings.Contains(err.Error(), "dial") {
		t.Fatalf("Send = %v, want a dial error", err)
	}
}

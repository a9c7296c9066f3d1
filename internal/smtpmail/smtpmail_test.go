package smtpmail

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/testkit"
)

const (
	customer  = "customer@example.org"
	subject   = "Finish your payment — Grüße"
	messageID = "notification-7.abc@shop.example.com"
)

// body has what the encoding must survive: a link longer than a line, a
// line that is a lone dot, '=', trailing spaces and non-ASCII text.
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

func email() billing.Email {
	return billing.Email{To: customer, Subject: subject, Body: body, MessageID: messageID}
}

// sender parses rawURL, in which PORT stands for the fake server's port,
// trusting the fake server's certificate.
func sender(t *testing.T, f *testkit.SMTPServer, rawURL string, opts ...Option) *Sender {
	t.Helper()
	cfg, err := ParseURL(strings.ReplaceAll(rawURL, "PORT", f.Port()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.roots = f.CertPool()
	return s
}

func TestSendDelivers(t *testing.T) {
	cases := map[string]struct {
		fake     testkit.SMTPOptions
		url      string
		wantAuth string
		wantTLS  bool
	}{
		"plain to loopback": {
			url: "smtp://127.0.0.1:PORT?tls=none&from=shop@example.com",
		},
		"STARTTLS then AUTH": {
			fake:     testkit.SMTPOptions{StartTLS: true, Auth: "PLAIN LOGIN"},
			url:      "smtp://user:s3cret@localhost:PORT?from=shop@example.com",
			wantAuth: "\x00user\x00s3cret",
			wantTLS:  true,
		},
		"STARTTLS without credentials": {
			fake:    testkit.SMTPOptions{StartTLS: true},
			url:     "smtp://127.0.0.1:PORT?from=shop@example.com",
			wantTLS: true,
		},
		"implicit TLS": {
			fake:     testkit.SMTPOptions{ImplicitTLS: true, Auth: "PLAIN"},
			url:      "smtps://user:s3cret@localhost:PORT?from=shop@example.com",
			wantAuth: "\x00user\x00s3cret",
			wantTLS:  true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := testkit.StartSMTP(t, tc.fake)
			if err := sender(t, f, tc.url).Send(t.Context(), email()); err != nil {
				t.Fatal(err)
			}
			got := f.NextSession(t)
			if got.Auth != tc.wantAuth || got.TLSAtAuth != tc.wantTLS && tc.wantAuth != "" {
				t.Errorf("AUTH %q over TLS %v, want %q over TLS %v", got.Auth, got.TLSAtAuth, tc.wantAuth, tc.wantTLS)
			}
			if got.TLSAtMail != tc.wantTLS {
				t.Errorf("MAIL over TLS = %v, want %v", got.TLSAtMail, tc.wantTLS)
			}
			if got.From != "shop@example.com" || !slices.Equal(got.Rcpt, []string{customer}) {
				t.Errorf("envelope from %q to %q", got.From, got.Rcpt)
			}
			checkMessage(t, got.Data, "shop@example.com")
		})
	}
}

// checkMessage parses what the server received and compares the headers
// and the decoded body with what was sent.
func checkMessage(t *testing.T, data, from string) {
	t.Helper()
	for line := range strings.Lines(data) {
		if len(line) > 998 {
			t.Errorf("line of %d octets", len(line))
		}
	}
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, data)
	}
	h := m.Header
	var dec mime.WordDecoder
	if got, err := dec.DecodeHeader(h.Get("Subject")); err != nil || got != subject {
		t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), got, err, subject)
	}
	if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if got := h.Get("Message-ID"); got != "<"+messageID+">" {
		t.Errorf("Message-ID %q, want the notification's <%s>", got, messageID)
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	if got, _ := dec.DecodeHeader(h.Get("From")); !strings.Contains(got, from) {
		t.Errorf("From %q, want %q", got, from)
	}
	if got := h.Get("To"); !strings.Contains(got, customer) {
		t.Errorf("To %q, want %q", got, customer)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(m.Body)
	}
	decoded, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if got := strings.TrimSuffix(strings.ReplaceAll(string(decoded), "\r\n", "\n"), "\n"); got != body {
		t.Errorf("body decodes to\n%s\nwant\n%s", got, body)
	}
}

func TestSendRefusesBadInputBeforeConnecting(t *testing.T) {
	cases := map[string]struct {
		to, subject, id string
		want            string
	}{
		"CRLF in recipient":      {to: "bob@example.com\r\nBcc: eve@example.net", subject: "Hi", want: "line break"},
		"LF in recipient":        {to: "bob@example.com\nBcc: eve@example.net", subject: "Hi", want: "line break"},
		"named recipient":        {to: "Bob <bob@example.com>", subject: "Hi", want: "bare address"},
		"bracketed recipient":    {to: "<bob@example.com>", subject: "Hi", want: "bare address"},
		"recipient comment":      {to: "bob@example.com (Bob)", subject: "Hi", want: "bare address"},
		"two recipients":         {to: "bob@example.com, eve@example.net", subject: "Hi", want: "not an email address"},
		"not an address":         {to: "bob", subject: "Hi", want: "not an email address"},
		"empty recipient":        {to: "", subject: "Hi", want: "not an email address"},
		"non-ASCII recipient":    {to: "jörg@example.com", subject: "Hi", want: "ASCII"},
		"CRLF in subject":        {to: customer, subject: "Hi\r\nBcc: eve@example.net", want: "subject contains a line break"},
		"LF in subject":          {to: customer, subject: "Hi\nBcc: eve@example.net", want: "subject contains a line break"},
		"CR in subject":          {to: customer, subject: "Hi\rBcc: eve@example.net", want: "subject contains a line break"},
		"header in message id":   {to: customer, subject: "Hi", id: "a@b>\r\nBcc: eve@example.net", want: "message id"},
		"brackets in message id": {to: customer, subject: "Hi", id: "<a@b>", want: "message id"},
	}
	f := testkit.StartSMTP(t, testkit.SMTPOptions{})
	s := sender(t, f, "smtp://127.0.0.1:PORT?tls=none")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := s.Send(t.Context(), billing.Email{To: tc.to, Subject: tc.subject, Body: "body", MessageID: tc.id})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "bob@") {
				t.Errorf("error quotes the recipient: %v", err)
			}
		})
	}
	if n := len(f.Messages()); n != 0 {
		t.Errorf("the server received %d messages", n)
	}
}

func TestSendGivesUpOnSilentServer(t *testing.T) {
	f := testkit.StartSMTP(t, testkit.SMTPOptions{Silent: true})
	s := sender(t, f, "smtp://127.0.0.1:PORT", WithTimeout(200*time.Millisecond))
	start := time.Now()
	err := s.Send(t.Context(), email())
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("Send = %v, want a timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send took %v to give up", elapsed)
	}
}

func TestSendFailures(t *testing.T) {
	cases := map[string]struct {
		fake       testkit.SMTPOptions
		url        string
		trust      bool
		want       string
		wantNoMail bool
	}{
		"no STARTTLS offered (a downgrade)": {
			fake: testkit.SMTPOptions{Auth: "PLAIN"},
			url:  "smtp://user:s3cret@127.0.0.1:PORT", trust: true,
			want: "STARTTLS",
		},
		"unknown certificate": {
			fake: testkit.SMTPOptions{ImplicitTLS: true},
			url:  "smtps://127.0.0.1:PORT",
			want: "certificate",
		},
		"unknown certificate on STARTTLS": {
			fake: testkit.SMTPOptions{StartTLS: true},
			url:  "smtp://127.0.0.1:PORT",
			want: "certificate",
		},
		"credentials but no AUTH": {
			fake: testkit.SMTPOptions{StartTLS: true},
			url:  "smtp://user:s3cret@localhost:PORT", trust: true,
			want: "AUTH",
		},
		"PLAIN refused without TLS": {
			fake: testkit.SMTPOptions{Auth: "PLAIN LOGIN"},
			url:  "smtp://user:s3cret@127.0.0.1:PORT?tls=none", trust: true,
			want: "auth",
		},
		"server down": {
			url: "smtp://127.0.0.1:PORT?tls=none", trust: true,
			want: "421",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := testkit.StartSMTP(t, tc.fake)
			f.SetDown(name == "server down")
			s := sender(t, f, tc.url)
			if !tc.trust {
				s.roots = nil // the system's roots, which do not know the fake's certificate
			}
			err := s.Send(t.Context(), email())
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("Send = %v, want an error mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error quotes the password: %v", err)
			}
			if n := len(f.Messages()); n != 0 {
				t.Errorf("the server accepted %d messages", n)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg, err := ParseURL(fmt.Sprintf("smtp://127.0.0.1:%d?tls=none", port))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), email()); err == nil || !strings.Contains(err.Error(), "dial") {
		t.Fatalf("Send = %v, want a dial error", err)
	}
}

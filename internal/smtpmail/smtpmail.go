// Package smtpmail sends the store's plain-text emails through the SMTP
// server that one URL, SMTP_URL, names (see ParseURL). The SMTP
// conversation, TLS, authentication and MIME encoding are go-mail's; this
// package turns the URL into its options and checks what a customer typed.
package smtpmail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/storefront/storefront/internal/billing"
)

// DefaultTimeout bounds each Send, from dialing to QUIT.
const DefaultTimeout = 15 * time.Second

// Sender delivers messages through one SMTP server, one connection per
// message. With a user name it logs in with the strongest mechanism the
// server offers (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, then PLAIN or LOGIN,
// the last two only over TLS). It is safe for concurrent use.
type Sender struct {
	cfg     Config
	timeout time.Duration
	// roots, when set, replaces the system's certificate roots (a test's own CA).
	roots *x509.CertPool
}

// Option adjusts a Sender made by New.
type Option func(*Sender)

// WithTimeout bounds each Send by d instead of DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(s *Sender) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// New checks cfg, without connecting, and returns a Sender for it.
func New(cfg Config, opts ...Option) (*Sender, error) {
	var problems []error
	if cfg.Host == "" {
		problems = append(problems, errors.New("smtpmail: no host"))
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		problems = append(problems, fmt.Errorf("smtpmail: port %d is not from 1 to 65535", cfg.Port))
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	}
	if _, err := parseFrom(cfg.From); err != nil {
		problems = append(problems, fmt.Errorf("smtpmail: %w", err))
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		problems = append(problems, errors.New("smtpmail: a user name and a password go together; one is missing"))
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(cfg.Host) {
			problems = append(problems, errors.New("smtpmail: no TLS is allowed only to a loopback host"))
		}
	default:
		problems = append(problems, fmt.Errorf("smtpmail: unknown TLS mode %q", cfg.TLS))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(s)
	}
	return s, nil
}

// Send delivers one plain-text UTF-8 message to one recipient, a bare
// address such as name@example.com, with e.MessageID as its Message-ID. It
// checks its input before connecting and gives up after the Sender's
// timeout; ctx bounds the dial. Errors do not quote the recipient.
func (s *Sender) Send(ctx context.Context, e billing.Email) error {
	msg, err := s.message(e)
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	client, err := gomail.NewClient(s.cfg.Host, s.clientOptions()...)
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtpmail: send via %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

func (s *Sender) clientOptions() []gomail.Option {
	tlsConfig := &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	tlsConfig.RootCAs = s.roots
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.timeout), gomail.WithTLSConfig(tlsConfig)}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// message builds the email, refusing a recipient or subject that could add
// headers or recipients.
func (s *Sender) message(e billing.Email) (*gomail.Msg, error) {
	if err := checkRecipient(e.To); err != nil {
		return nil, err
	}
	if strings.ContainsAny(e.Subject, "\r\n") {
		return nil, errors.New("subject contains a line break")
	}
	if strings.ContainsAny(e.MessageID, "<>\r\n \t") {
		return nil, errors.New("message id must be a bare id-left@id-right")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(e.To); err != nil {
		return nil, errors.New("recipient is not an email address")
	}
	msg.Subject(e.Subject)
	msg.SetDate()
	if e.MessageID != "" {
		msg.SetMessageIDWithValue(e.MessageID)
	} else {
		msg.SetMessageID()
	}
	msg.SetBodyString(gomail.TypeTextPlain, e.Body)
	return msg, nil
}

// checkRecipient accepts exactly one bare ASCII address, so that a
// customer-supplied value can neither add headers nor add recipients.
// Its errors do not quote the address, which is personal data.
func checkRecipient(to string) error {
	if strings.ContainsAny(to, "\r\n") {
		return errors.New("recipient contains a line break")
	}
	a, err := mail.ParseAddress(to)
	if err != nil {
		return errors.New("recipient is not an email address")
	}
	if a.Name != "" || a.Address != to {
		return errors.New("recipient must be a bare address such as name@example.com, without a name, brackets or comments")
	}
	if !isASCII(to) {
		return errors.New("recipient must be an ASCII address")
	}
	return nil
}

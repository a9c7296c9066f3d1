// Package smtpmail sends plain-text email through an SMTP server configured
// by one URL, SMTP_URL; the store uses it to mail a customer the link that
// finishes a payment that failed off-session.
package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Defaults for a Sender.
const (
	DefaultTimeout = 15 * time.Second
	DefaultHELO    = "localhost"
)

// Sender delivers messages through one SMTP server, one connection per
// message. It is safe for concurrent use.
type Sender struct {
	cfg     Config
	timeout time.Duration
	helo    string
	// dial opens the TCP connection; tests point it at a fake server while
	// cfg.Host names a remote one, so no test ever leaves the machine.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Option adjusts a Sender made by New.
type Option func(*Sender)

// WithTimeout bounds each Send, from dialing to QUIT, by d; d <= 0 keeps
// DefaultTimeout. A shorter deadline on Send's context still wins.
func WithTimeout(d time.Duration) Option {
	return func(s *Sender) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithHELO sets the name the Sender gives in EHLO; some servers want the
// sending host's real name rather than DefaultHELO.
func WithHELO(name string) Option {
	return func(s *Sender) { s.helo = name }
}

// WithFrom sets the sender address, overriding the from option of SMTP_URL.
func WithFrom(addr string) Option {
	return func(s *Sender) { s.cfg.From = addr }
}

// New returns a Sender for cfg. It does not connect; call Validate at start
// to fail fast on a configuration Send would refuse.
func New(cfg Config, opts ...Option) *Sender {
	s := &Sender{
		cfg:     cfg,
		timeout: DefaultTimeout,
		helo:    DefaultHELO,
		dial:    (&net.Dialer{}).DialContext,
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Validate reports, without connecting, a configuration that Send would
// refuse: no host, a bad port or sender, half a credential, a bad HELO name.
func (s *Sender) Validate() error {
	var problems []error
	if s.cfg.Host == "" {
		problems = append(problems, errors.New("smtpmail: no host"))
	}
	if s.cfg.Port < 1 || s.cfg.Port > 65535 {
		problems = append(problems, fmt.Errorf("smtpmail: port %d is not from 1 to 65535", s.cfg.Port))
	}
	if _, err := parseFrom(s.cfg.From); err != nil {
		problems = append(problems, fmt.Errorf("smtpmail: %w", err))
	}
	if (s.cfg.Username == "") != (s.cfg.Password == "") {
		problems = append(problems, errors.New("smtpmail: a user name and a password go together; one is missing"))
	}
	if s.helo == "" || strings.ContainsAny(s.helo, " \t\r\n") {
		problems = append(problems, errors.New("smtpmail: HELO name must be one word"))
	}
	return errors.Join(problems...)
}

// Send delivers one plain-text UTF-8 message to one recipient, a bare
// address such as name@example.com. It checks its input before connecting,
// and gives up when ctx ends or the Sender's timeout passes, whichever
// comes first. Errors do not quote the recipient.
func (s *Sender) Send(ctx context.Context, to, subject, body string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	from, err := parseFrom(s.cfg.From)
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	msg, err := buildMessage(from, to, subject, body, time.Now())
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.deliver(ctx, from.Address, to, msg); err != nil {
		// A deadline surfaces as an i/o timeout on the connection; say why
		// and let callers test for it with errors.Is.
		if ctxErr := contextErr(ctx); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return fmt.Errorf("smtpmail: send via %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

// deliver runs one SMTP session: connect, secure, authenticate, send.
func (s *Sender) deliver(ctx context.Context, from, to string, msg []byte) error {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	conn, err := s.dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	// net/smtp takes no context, so the context's deadline and cancellation
	// reach it through the connection's deadline.
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	tlsConfig := &tls.Config{
		ServerName:         s.cfg.Host,
		InsecureSkipVerify: s.cfg.InsecureSkipVerify,
		MinVersion:         tls.VersionTLS12,
	}
	var netConn net.Conn = conn
	if s.cfg.ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		netConn = tc
	}
	c, err := smtp.NewClient(netConn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.helo); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	// Extension hides a failed EHLO behind "not offered"; NOOP surfaces it
	// so a timeout is not misreported as a missing STARTTLS.
	if err := c.Noop(); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}

	if !s.cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		} else if !isLoopback(s.cfg.Host) {
			// Without this, anyone on the path could strip STARTTLS from
			// the greeting and read the payment link and the password.
			return errors.New("server does not offer STARTTLS; refusing to send over an unencrypted connection to a host that is not loopback (use smtps:// or a server with STARTTLS)")
		}
	}

	if s.cfg.Username != "" {
		ok, mechanisms := c.Extension("AUTH")
		if !ok {
			return errors.New("SMTP_URL has credentials but the server does not offer AUTH")
		}
		if !hasWord(mechanisms, "PLAIN") {
			return fmt.Errorf("server offers AUTH %s but not PLAIN, the only mechanism we speak", mechanisms)
		}
		// PlainAuth itself refuses an unencrypted connection unless the
		// host is localhost, a second guard on the rule above.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("auth as %q: %w", s.cfg.Username, err)
		}
	}

	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	// The server has accepted the message; failing now over QUIT would
	// make the caller retry and mail the customer twice.
	_ = c.Quit()
	return nil
}

// contextErr is ctx.Err, except that it already reports a deadline that has
// passed: the connection's deadline can fire a moment before the context's
// own timer does.
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// hasWord tells whether a space-separated list holds word, ignoring case.
func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

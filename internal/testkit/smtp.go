package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SMTPServer is a fake mail server on 127.0.0.1 that speaks enough of RFC
// 5321 for a real client, keeps every message it accepts, and can be down
// or stall, as a real one sometimes is.
type SMTPServer struct {
	// Addr is host:port.
	Addr string

	opts     SMTPOptions
	tls      *tls.Config
	roots    *x509.CertPool
	down     atomic.Bool
	stall    atomic.Bool
	stalled  chan struct{}
	sessions chan SMTPSession

	mu       sync.Mutex
	messages []SMTPMessage
}

// SMTPOptions choose what the server offers.
type SMTPOptions struct {
	// ImplicitTLS serves TLS from the first byte, like smtps.
	ImplicitTLS bool
	// StartTLS advertises and performs STARTTLS.
	StartTLS bool
	// Auth advertises AUTH with these mechanisms (only PLAIN is checked), e.g. "PLAIN LOGIN".
	Auth string
	// Silent accepts connections and never says a word.
	Silent bool
	// RejectRecipient is refused with a 450 (mailbox busy) at RCPT.
	RejectRecipient string
}

// SMTPSession is what one connection told the server.
type SMTPSession struct {
	Commands  []string // verbs, in order
	HELO      string
	Auth      string // decoded AUTH PLAIN response
	TLSAtAuth bool
	TLSAtMail bool
	From      string
	Rcpt      []string
	Data      string // after dot-unstuffing, with LF line endings
	Accepted  bool   // the message was answered 250
}

// SMTPMessage is an accepted message.
type SMTPMessage struct {
	From, To  string
	MessageID string
	Subject   string
	Data      string
}

// StartSMTP listens and serves until the test ends.
func StartSMTP(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{Addr: ln.Addr().String(), opts: opts, stalled: make(chan struct{}, 16), sessions: make(chan SMTPSession, 64)}
	s.tls, s.roots = selfSignedTLS(t)
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.tls)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				session := s.serve(conn)
				select {
				case s.sessions <- session:
				default: // nobody is asking; don't block Cleanup
				}
			})
		}
	})
	return s
}

// Port is the port the server listens on.
func (s *SMTPServer) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

// CertPool trusts the server's certificate (for 127.0.0.1, localhost and
// mail.example.com).
func (s *SMTPServer) CertPool() *x509.CertPool { return s.roots }

// SetDown makes the server answer every new connection 421 and hang up.
func (s *SMTPServer) SetDown(down bool) { s.down.Store(down) }

// StallNext holds the next connection without a greeting, as a server that
// hangs does, until the client hangs up; Stalled is told when it starts.
func (s *SMTPServer) StallNext() { s.stall.Store(true) }

// Stalled receives once per stalled connection.
func (s *SMTPServer) Stalled() <-chan struct{} { return s.stalled }

// Messages returns the messages accepted so far, oldest first.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.messages...)
}

// NextSession waits for the next finished session.
func (s *SMTPServer) NextSession(t testing.TB) SMTPSession {
	t.Helper()
	select {
	case session := <-s.sessions:
		return session
	case <-time.After(10 * time.Second):
		t.Fatal("fake SMTP server saw no session")
		return SMTPSession{}
	}
}

func (s *SMTPServer) serve(conn net.Conn) SMTPSession {
	var session SMTPSession
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if s.opts.Silent || s.stall.CompareAndSwap(true, false) {
		s.stalled <- struct{}{}
		_, _ = conn.Read(make([]byte, 1)) // until the client gives up or dies
		return session
	}
	secure := s.opts.ImplicitTLS
	tp := textproto.NewConn(conn)
	reply := func(lines ...string) {
		for _, l := range lines {
			_ = tp.PrintfLine("%s", l)
		}
	}
	if s.down.Load() {
		reply("421 4.3.2 fake.test service not available, try later")
		return session
	}
	reply("220 fake.test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return session
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		session.Commands = append(session.Commands, verb)
		switch verb {
		case "EHLO", "HELO":
			session.HELO = arg
			lines := []string{"fake.test hello"}
			if s.opts.Auth != "" {
				lines = append(lines, "AUTH "+s.opts.Auth)
			}
			if s.opts.StartTLS && !secure {
				lines = append(lines, "STARTTLS")
			}
			lines = append(lines, "8BITMIME", "HELP")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				reply("250" + sep + l)
			}
		case "STARTTLS":
			if !s.opts.StartTLS || secure {
				reply("502 5.5.1 not offered")
				continue
			}
			reply("220 2.0.0 go ahead")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return session
			}
			secure = true
			tp = textproto.NewConn(tc)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			decoded, err := base64.StdEncoding.DecodeString(resp)
			if !strings.EqualFold(mech, "PLAIN") || err != nil {
				reply("504 5.5.4 unsupported")
				continue
			}
			session.Auth, session.TLSAtAuth = string(decoded), secure
			reply("235 2.7.0 accepted")
		case "MAIL":
			session.From, session.TLSAtMail = between(arg, "<", ">"), secure
			reply("250 2.1.0 ok")
		case "RCPT":
			rcpt := between(arg, "<", ">")
			if s.opts.RejectRecipient != "" && strings.EqualFold(rcpt, s.opts.RejectRecipient) {
				reply("450 4.2.1 mailbox busy, try later")
				continue
			}
			session.Rcpt = append(session.Rcpt, rcpt)
			reply("250 2.1.5 ok")
		case "DATA":
			reply("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return session
			}
			session.Data, session.Accepted = string(data), true
			s.keep(session)
			reply("250 2.0.0 queued")
		case "NOOP", "RSET":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return session
		default:
			reply("502 5.5.2 unknown command")
		}
	}
}

// keep records an accepted message.
func (s *SMTPServer) keep(session SMTPSession) {
	m := SMTPMessage{From: session.From, To: strings.Join(session.Rcpt, ","), Data: session.Data}
	if parsed, err := mail.ReadMessage(strings.NewReader(session.Data)); err == nil {
		m.MessageID = strings.Trim(parsed.Header.Get("Message-ID"), "<>")
		m.Subject = parsed.Header.Get("Subject")
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
}

func between(s, open, close string) string {
	_, rest, _ := strings.Cut(s, open)
	inside, _, _ := strings.Cut(rest, close)
	return inside
}

// selfSignedTLS makes a throwaway certificate for 127.0.0.1, localhost and
// mail.example.com, and a pool that trusts it.
func selfSignedTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake smtp"},
		DNSNames:              []string{"localhost", "mail.example.com"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

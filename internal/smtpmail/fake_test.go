package smtpmail

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
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSMTP is a one-session-at-a-time SMTP server on 127.0.0.1 that speaks
// just enough of RFC 5321 for net/smtp and records what it was told.
type fakeSMTP struct {
	// implicitTLS serves TLS from the first byte, like smtps.
	implicitTLS bool
	// startTLS advertises and performs STARTTLS.
	startTLS bool
	// auth advertises AUTH PLAIN.
	auth bool
	// silent accepts connections and never says a word.
	silent bool

	addr     string
	sessions chan session
}

// session is what one connection told the fake server.
type session struct {
	commands  []string // verbs, in order
	helo      string
	auth      string // decoded AUTH PLAIN response
	tlsAtAuth bool
	tlsAtMail bool
	from      string
	rcpt      []string
	data      string // after dot-unstuffing, with LF line endings
}

// start listens and serves until the test ends.
func (f *fakeSMTP) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.sessions = make(chan session, 16)
	tlsConfig := selfSignedTLS(t)
	if f.implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
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
				select {
				case f.sessions <- f.serve(conn, tlsConfig):
				default: // nobody is asking; don't block Cleanup
				}
			})
		}
	})
}

// next waits for the next finished session.
func (f *fakeSMTP) next(t *testing.T) session {
	t.Helper()
	select {
	case s := <-f.sessions:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("fake SMTP server saw no session")
		return session{}
	}
}

func (f *fakeSMTP) serve(conn net.Conn, tlsConfig *tls.Config) session {
	var s session
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if f.silent {
		_, _ = conn.Read(make([]byte, 1)) // until the client gives up
		return s
	}
	secure := f.implicitTLS
	tp := textproto.NewConn(conn)
	reply := func(lines ...string) {
		for _, l := range lines {
			_ = tp.PrintfLine("%s", l)
		}
	}
	reply("220 fake.test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return s
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.commands = append(s.commands, verb)
		switch verb {
		case "EHLO", "HELO":
			s.helo = arg
			lines := []string{"fake.test hello"}
			if f.auth {
				lines = append(lines, "AUTH LOGIN PLAIN")
			}
			if f.startTLS && !secure {
				lines = append(lines, "STARTTLS")
			}
			lines = append(lines, "HELP")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				reply("250" + sep + l)
			}
		case "STARTTLS":
			if !f.startTLS || secure {
				reply("502 5.5.1 not offered")
				continue
			}
			reply("220 2.0.0 go ahead")
			tc := tls.Server(conn, tlsConfig)
			if err := tc.Handshake(); err != nil {
				return s
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
			s.auth, s.tlsAtAuth = string(decoded), secure
			reply("235 2.7.0 accepted")
		case "MAIL":
			s.from, s.tlsAtMail = between(arg, "<", ">"), secure
			reply("250 2.1.0 ok")
		case "RCPT":
			s.rcpt = append(s.rcpt, between(arg, "<", ">"))
			reply("250 2.1.5 ok")
		case "DATA":
			reply("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return s
			}
			s.data = string(data)
			reply("250 2.0.0 queued")
		case "NOOP", "RSET":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return s
		default:
			reply("502 5.5.2 unknown command")
		}
	}
}

func between(s, open, close string) string {
	_, rest, _ := strings.Cut(s, open)
	inside, _, _ := strings.Cut(rest, close)
	return inside
}

// selfSignedTLS makes a throwaway certificate for 127.0.0.1, localhost and
// mail.example.com, trusted by nobody.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake smtp"},
		DNSNames:     []string{"localhost", "mail.example.com"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

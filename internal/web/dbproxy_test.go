package web_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/storefront/storefront/internal/postgres"
)

// dbProxy sits between the store and PostgreSQL so a test can take the
// database away (Down: every connection cut, new ones refused) and bring it
// back (Up), as an outage or a failover would.
type dbProxy struct {
	listener net.Listener
	target   string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{listener: l, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.Down() })
	return p
}

// via rewrites a database URL to go through the proxy.
func (p *dbProxy) via(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.listener.Addr().String()
	return u.String()
}

func (p *dbProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, server)
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

func (p *dbProxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = true
	}
}

func (p *dbProxy) pipe(dst, src net.Conn) {
	io.Copy(dst, src) //nolint:errcheck
	dst.Close()
	src.Close()
}

// Down cuts every connection and refuses new ones.
func (p *dbProxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Up accepts connections again.
func (p *dbProxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// newStoreBehindProxy is a store whose database connections go through a
// dbProxy, so the test can take the database away.
func newStoreBehindProxy(t *testing.T, stripe *stripeSide) (*harness, *dbProxy) {
	t.Helper()
	_, dbURL := pg.NewDBWithURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	db, err := postgres.Open(context.Background(), proxy.via(t, dbURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return newStore(t, stripe, db), proxy
}

package testenv

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PGProxyMode says what the end of one side of a connection through a
// PGProxy does to the other side.
type PGProxyMode int

const (
	// ServerStays never closes the server side of a connection on its
	// own: when a client side ends (its process killed) or is cut (Cut),
	// the server's backend stays, idle, as a host that vanished (powered
	// off, a node lost, its network gone) or a NAT table or load balancer
	// that drops its flows leaves it, until the server's TCP keepalive
	// gives up on the peer (two hours and more by default).
	ServerStays PGProxyMode = iota
	// EndsBoth ends both sides of a connection when either ends, as a
	// connection on a network that works ends.
	EndsBoth
)

// PGProxy forwards TCP connections to a PostgreSQL server and plays what
// the network or the server does to them:
//   - Cut closes the client side of every connection so far: the client
//     sees its connection die; what becomes of the server side is the
//     proxy's PGProxyMode.
//   - Down plays an outage of the server: it ends every connection, both
//     sides (the server's backends end and their advisory locks are
//     released, as a restart or a failover ends them), and closes every
//     new connection at once until Up, as a server that is not there yet.
//
// Every connection is closed at the test's cleanup.
type PGProxy struct {
	ln   net.Listener
	dsn  string
	mode PGProxyMode
	mu   sync.Mutex
	down bool
	cli  []net.Conn
	srv  []net.Conn
}

// PostgresProxy starts a PGProxy in mode in front of the server of dsn (a
// URL, as PostgresDSN returns).
func PostgresProxy(t testing.TB, dsn string, mode PGProxyMode) *PGProxy {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	p := &PGProxy{ln: ln, dsn: u.String(), mode: mode}
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				s.Close()
				continue
			}
			p.cli, p.srv = append(p.cli, c), append(p.srv, s)
			p.mu.Unlock()
			if mode == ServerStays {
				go func() { _, _ = io.Copy(s, c) }() // an ended or cut client side stops it, s stays open
				go func() { _, _ = io.Copy(c, s) }()
				continue
			}
			go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
		}
	}()
	return p
}

// Addr is the proxy's address.
func (p *PGProxy) Addr() string { return p.ln.Addr().String() }

// DSN is the proxy's dsn: the server's, with the proxy as its host.
func (p *PGProxy) DSN() string { return p.dsn }

// Cut closes the client side of every connection so far (see PGProxy).
func (p *PGProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cli {
		c.Close()
	}
	p.cli = nil
}

// Down ends every connection, both sides, and refuses new ones until Up.
func (p *PGProxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
}

// Up accepts connections again.
func (p *PGProxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *PGProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range append(p.cli, p.srv...) {
		c.Close()
	}
	p.cli, p.srv = nil, nil
}

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

// OutageProxy forwards TCP connections to a PostgreSQL server and can
// play an outage of it: Down ends every connection, both sides (the
// server's backends end and their advisory locks are released, as a
// restart or a failover ends them), and closes every new connection at
// once until Up, as a server that is not there yet. Every connection is
// closed at the test's cleanup.
type OutageProxy struct {
	ln    net.Listener
	dsn   string
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

// PostgresOutageProxy starts an OutageProxy in front of the server of dsn
// (a URL, as PostgresDSN returns).
func PostgresOutageProxy(t testing.TB, dsn string) *OutageProxy {
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
	p := &OutageProxy{ln: ln, dsn: u.String()}
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
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
		}
	}()
	return p
}

// DSN is the proxy's dsn: the server's, with the proxy as its host.
func (p *OutageProxy) DSN() string { return p.dsn }

// Down ends every connection and refuses new ones until Up.
func (p *OutageProxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
}

// Up accepts connections again.
func (p *OutageProxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *OutageProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

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

// FlowProxy forwards TCP connections to a PostgreSQL server and never
// closes the server side of one on its own: when a client side ends (its
// process killed) or is cut (Cut), the server's backend stays, idle, as a
// host that vanished (powered off, a node lost, its network gone) or a NAT
// table or load balancer that drops its flows leaves it, until the
// server's TCP keepalive gives up on the peer (two hours and more by
// default). Every connection is closed at the test's cleanup.
type FlowProxy struct {
	ln  net.Listener
	dsn string
	mu  sync.Mutex
	cli []net.Conn
	srv []net.Conn
}

// PostgresFlowProxy starts a FlowProxy in front of the server of dsn (a
// URL, as PostgresDSN returns).
func PostgresFlowProxy(t testing.TB, dsn string) *FlowProxy {
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
	p := &FlowProxy{ln: ln, dsn: u.String()}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range append(p.cli, p.srv...) {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.cli, p.srv = append(p.cli, c), append(p.srv, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c) }() // an ended or cut client side stops it, s stays open
			go func() { _, _ = io.Copy(c, s) }()
		}
	}()
	return p
}

// Addr is the proxy's address.
func (p *FlowProxy) Addr() string { return p.ln.Addr().String() }

// DSN is the proxy's dsn: the server's, with the proxy as its host.
func (p *FlowProxy) DSN() string { return p.dsn }

// Cut closes the client side of every connection so far and keeps the
// server side open: the client sees its connection die, the server's
// backend stays.
func (p *FlowProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cli {
		c.Close()
	}
	p.cli = nil
}

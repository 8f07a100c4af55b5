package broker_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
)

// tcpProxy forwards connections to target until down is called; then it
// closes them and refuses new ones (the broker unreachable).
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	t.Cleanup(p.down)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); _ = b.Close() }()
			go func() { _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) down() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// While the broker is unreachable, a publish with a long context (the
// sweeper relays with the worker's) redials it, retrying until it answers.
// It did so holding the publisher's lock, which every other publish and
// the readiness check (Conn) wait for whatever their context: the intake's
// publish, bounded by PUBLISH_TIMEOUT so that the client is told 503 before
// the server's WriteTimeout, waited for the whole outage, and its client
// got no answer at all; /readyz hung; a handler outlived its budget. Each
// must give up within its own context.
func TestPublisherUnreachableBrokerBoundsEveryCaller(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.outage", broker.QueueQuorum, nil)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, pu.Host)
	pu.Host = proxy.ln.Addr().String()
	pub := newPublisher(t, pu.String(), 4)
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.outage", message.NewMessage("before", nil)); err != nil {
		t.Fatalf("publish before the outage: %v", err)
	}
	proxy.down()

	long, cancelLong := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelLong()
	longDone := make(chan struct{})
	go func() {
		defer close(longDone)
		_ = pub.Publish(long, "", "q.outage", message.NewMessage("sweeper", nil))
	}()
	time.Sleep(time.Second) // the long publish is redialling

	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"publish", func(ctx context.Context) error {
			return pub.Publish(ctx, "", "q.outage", message.NewMessage("intake", nil))
		}},
		{"readiness (Conn)", func(ctx context.Context) error { _, err := pub.Conn(ctx); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- tc.call(ctx) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("succeeded with the broker unreachable")
				}
				if d := time.Since(start); d > 4*time.Second {
					t.Errorf("returned after %s, its context allowed 1s", d.Round(time.Millisecond))
				}
			case <-time.After(8 * time.Second):
				t.Errorf("still waiting 8s later, its context allowed 1s (blocked behind another caller's redial)")
			}
		})
	}
	cancelLong()
	<-longDone
}

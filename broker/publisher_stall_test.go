package broker_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
)

// stallProxy forwards AMQP connections frame by frame until stall is
// called; then it stops passing the client's frames to the broker (held,
// not dropped), while the broker's frames still reach the client and the
// proxy keeps the broker's heartbeat monitor fed. The client so sees what
// a broker that stops processing its frames looks like — RabbitMQ blocking
// a publishing connection at a resource alarm: the TCP connection and the
// heartbeats live on, and no reply to anything the client sends comes,
// however long it waits.
type stallProxy struct {
	ln      net.Listener
	stalled atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
	resume  chan struct{}
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, resume: make(chan struct{})}
	t.Cleanup(p.close)
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
			go p.forward(c, b)
			go func() { _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
	return p
}

// forward copies the client's frames to the broker; while stalled it
// holds them and sends the broker a heartbeat frame every second instead.
func (p *stallProxy) forward(c, b net.Conn) {
	defer func() { _ = b.Close() }()
	var wmu sync.Mutex
	write := func(f []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := b.Write(f)
		return err
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		heartbeat := []byte{8, 0, 0, 0, 0, 0, 0, 0xCE}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if p.stalled.Load() {
					_ = write(heartbeat)
				}
			}
		}
	}()
	header := make([]byte, 8) // "AMQP" 0 0 9 1
	if _, err := io.ReadFull(c, header); err != nil || write(header) != nil {
		return
	}
	for {
		head := make([]byte, 7)
		if _, err := io.ReadFull(c, head); err != nil {
			return
		}
		frame := make([]byte, 7+int(binary.BigEndian.Uint32(head[3:]))+1)
		copy(frame, head)
		if _, err := io.ReadFull(c, frame[7:]); err != nil {
			return
		}
		if p.stalled.Load() {
			p.mu.Lock()
			resume := p.resume
			p.mu.Unlock()
			select {
			case <-resume:
			case <-done:
				return
			}
		}
		if write(frame) != nil {
			return
		}
	}
}

func (p *stallProxy) stall() { p.stalled.Store(true) }

// unstall forwards the held frames and everything after them again.
func (p *stallProxy) unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled.Swap(false) {
		close(p.resume)
		p.resume = make(chan struct{})
	}
}

func (p *stallProxy) close() {
	_ = p.ln.Close()
	p.unstall()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// A broker that keeps the connection and its heartbeats alive but stops
// answering (RabbitMQ blocking a publishing connection at a memory or disk
// alarm; a broker process wedged) never confirms. A publish bounded by
// its context stopped waiting for the confirm at its deadline, then closed
// the channel, which waits for the broker's close-ok without any bound:
// the publish never returned, and a handler that published held its order
// lock, its consumer and a publisher slot for as long as the broker did
// not answer, in silence. The next publish, given a fresh channel, waited
// for the broker's channel.open-ok the same way. Every publish must
// return within its context, the publisher must not be left without
// slots, and it must publish again once the broker answers.
func TestPublishToABrokerThatStopsAnsweringEndsWithItsContext(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.stall", broker.QueueQuorum, nil)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, pu.Host)
	pu.Host = proxy.ln.Addr().String()
	pub := newPublisher(t, pu.String(), 1) // one slot: a publish that never returns holds it
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.stall", message.NewMessage("before", nil)); err != nil {
		t.Fatalf("publish before the stall: %v", err)
	}
	proxy.stall()

	// The first reuses the idle channel (its confirm never comes); the
	// second opens a channel (its open-ok never comes); the third, once
	// the unanswered connection was dropped, dials a new one (its
	// handshake is never answered).
	for i, id := range []string{"first", "second", "third"} {
		if id == "third" {
			time.Sleep(broker.AnswerGrace + time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- pub.Publish(ctx, "", "q.stall", message.NewMessage(id, nil)) }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("publish %d succeeded with the broker not answering", i+1)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("publish %d returned after %s; its context allowed 2s", i+1, d.Round(time.Millisecond))
			}
			t.Logf("publish %d: %v", i+1, err)
		case <-time.After(20 * time.Second):
			cancel()
			t.Fatalf("publish %d still waiting 20s later; its context allowed 2s (waiting for the broker's reply to a channel close or open, unbounded)", i+1)
		}
		cancel()
	}

	proxy.unstall()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pub.Publish(testCtx(t, 5*time.Second), "", "q.stall", message.NewMessage("after", nil))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publisher does not publish once the broker answers again: %v", err)
		}
		t.Logf("publish after the stall: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
}

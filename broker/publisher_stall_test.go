package broker_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

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
	// toClient are the clients' frame writers (whole frames only).
	toClient []func([]byte) error
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
			go p.backward(b, c)
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

// backward copies the broker's frames to the client, whole, so that
// inject can put frames of its own between them.
func (p *stallProxy) backward(b, c net.Conn) {
	defer func() { _ = c.Close() }()
	var wmu sync.Mutex
	write := func(f []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(f)
		return err
	}
	p.mu.Lock()
	p.toClient = append(p.toClient, write)
	p.mu.Unlock()
	for {
		head := make([]byte, 7)
		if _, err := io.ReadFull(b, head); err != nil {
			return
		}
		frame := make([]byte, 7+int(binary.BigEndian.Uint32(head[3:]))+1)
		copy(frame, head)
		if _, err := io.ReadFull(b, frame[7:]); err != nil {
			return
		}
		if write(frame) != nil {
			return
		}
	}
}

// inject sends every client a connection-level method frame (class 10)
// with its arguments, as if the broker had.
func (p *stallProxy) inject(method uint16, args []byte) {
	payload := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 10), method)
	payload = append(payload, args...)
	frame := append([]byte{1, 0, 0}, binary.BigEndian.AppendUint32(nil, uint32(len(payload)))...)
	frame = append(append(frame, payload...), 0xCE)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.toClient {
		_ = w(frame)
	}
}

// block and unblock send connection.blocked and connection.unblocked, as
// RabbitMQ does at a resource alarm and when it clears.
func (p *stallProxy) block(reason string) {
	p.inject(60, append([]byte{byte(len(reason))}, reason...))
}
func (p *stallProxy) unblock() { p.inject(61, nil) }

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

// At a memory or disk alarm RabbitMQ tells each publishing connection
// connection.blocked and stops reading it: no publish is confirmed until
// connection.unblocked. The readiness check of the broker asked only
// whether the publisher's connection was open, which it is, so /readyz
// answered 200 (and the intake took requests it could only answer 503
// after PUBLISH_TIMEOUT) for as long as the alarm lasted. The publisher's
// readiness (Ready) says the broker blocks publishing, with its reason,
// and is ready again once unblocked.
func TestPublisherReadinessSaysTheBrokerBlocksPublishing(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.blocked", broker.QueueQuorum, nil)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, pu.Host)
	pu.Host = proxy.ln.Addr().String()
	pub := newPublisher(t, pu.String(), 2)
	ctx := testCtx(t, 30*time.Second)
	if err := pub.Publish(ctx, "", "q.blocked", message.NewMessage("before", nil)); err != nil {
		t.Fatalf("publish before the alarm: %v", err)
	}
	if err := pub.Ready(ctx); err != nil {
		t.Fatalf("not ready before the alarm: %v", err)
	}
	proxy.block("low on memory")
	proxy.stall()
	waitReady := func(want bool) error {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := pub.Ready(testCtx(t, 2*time.Second))
			if (err == nil) == want || time.Now().After(deadline) {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	err = waitReady(false)
	if err == nil {
		t.Fatal("ready while the broker blocks publishing")
	}
	if !strings.Contains(err.Error(), "blocks publishing") || !strings.Contains(err.Error(), "low on memory") {
		t.Errorf("readiness %q does not say the broker blocks publishing, and why", err)
	}
	proxy.unblock()
	proxy.unstall()
	if err := waitReady(true); err != nil {
		t.Fatalf("still not ready after connection.unblocked: %v", err)
	}
	if err := pub.Publish(ctx, "", "q.blocked", message.NewMessage("after", nil)); err != nil {
		t.Fatalf("publish after the alarm: %v", err)
	}
}

// The keyed subscriber (Radial's status queue, on Radial's broker) ended a
// session by closing its connection, which waits for the broker's
// close-ok without a bound: with a broker that keeps the connection and
// its heartbeats alive but stopped answering, Close (the worker's
// shutdown) never returned. It must return within its drain timeout and
// a few seconds.
func TestKeyedSubscriberCloseWithABrokerThatStopsAnswering(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	const q = "q.keyed.stall"
	declare(t, ch, q, "classic", nil)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, pu.Host)
	pu.Host = proxy.ln.Addr().String()
	sub := &broker.KeyedSubscriber{URL: pu.String(), N: 2, Passive: true, DrainTimeout: time.Second, Log: zerolog.Nop(),
		Key: func(m *message.Message) string { return m.Metadata.Get("key") }}
	if _, err := sub.Subscribe(testCtx(t, time.Minute), q); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !sub.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("not consuming")
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy.stall()
	closed := make(chan struct{})
	start := time.Now()
	go func() { _ = sub.Close(); close(closed) }()
	select {
	case <-closed:
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("Close took %s", d.Round(time.Millisecond))
		}
	case <-time.After(20 * time.Second):
		proxy.unstall() // let the test end
		t.Fatal("Close still waiting 20s later (for the broker's close-ok, unbounded)")
	}
}

// The request queues' consumers (watermill-amqp, merged by
// ConcurrentSubscriber) close their connection at shutdown, which waits
// for the broker's close-ok without a bound (amqp091): with a broker that
// keeps the connection and its heartbeats alive but stopped answering,
// Close (the worker's shutdown) never returned. It must return within its
// drain timeout and a few seconds.
func TestConcurrentSubscriberCloseWithABrokerThatStopsAnswering(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	const q = "q.concurrent.stall"
	declare(t, ch, q, broker.QueueQuorum, nil)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, pu.Host)
	pu.Host = proxy.ln.Addr().String()
	wsub, err := broker.NewSubscriber(testCtx(t, 30*time.Second), broker.SubscriberConfig{URL: pu.String(), Prefetch: 1}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	sub := broker.NewConcurrentSubscriber(wsub, 2, time.Second, zerolog.Nop())
	if _, err := sub.Subscribe(testCtx(t, time.Minute), q); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // consuming
	proxy.stall()
	closed := make(chan struct{})
	start := time.Now()
	go func() { _ = sub.Close(); close(closed) }()
	select {
	case <-closed:
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("Close took %s", d.Round(time.Millisecond))
		}
	case <-time.After(25 * time.Second):
		proxy.unstall() // let the test end
		t.Fatal("Close still waiting 25s later (for the broker's answers, unbounded)")
	}
}

package testenv

import (
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BrokerProxy is a TCP proxy in front of the test's broker that forwards
// AMQP connections frame by frame and can make the broker misbehave for
// the connections dialled through it only (the broker itself and every
// other connection are left alone, so a test using it needs no
// RequireExclusiveBroker):
//
//   - Stall: the broker stops processing what the client sends — RabbitMQ
//     blocking a publishing connection at a resource alarm, a wedged node.
//     The client's frames are held, not dropped, and once the socket
//     buffers are full its writes block; the broker's frames still reach
//     the client, and the proxy feeds the broker's heartbeat monitor, so
//     the connection and its heartbeats live on and no reply to anything
//     the client sends comes, however long it waits. Unstall forwards the
//     held frames and everything after them.
//   - Block and Unblock: connection.blocked and connection.unblocked, sent
//     to the client as RabbitMQ does at a resource alarm and when it
//     clears (combine Block with Stall for the whole alarm).
//   - Close: the broker unreachable: every connection is closed and new
//     ones are refused. It also runs at the test's cleanup.
type BrokerProxy struct {
	ln      net.Listener
	amqpURL string // the broker's URL with the proxy as its host
	stalled atomic.Bool

	mu       sync.Mutex
	conns    []net.Conn
	resume   chan struct{}        // closed by Unstall
	toClient []func([]byte) error // the clients' frame writers (whole frames only)
}

// proxyReadBuffer is the proxy's receive buffer for a client's
// connection, kept small so that a stalled client's writes block after a
// few MB, not after the tens of MB loopback autotunes to.
const proxyReadBuffer = 64 << 10

// NewBrokerProxy starts a proxy in front of the broker of amqpURL (as
// AMQPURL returns it); URL is amqpURL through the proxy. The proxy is
// closed at the test's cleanup.
func NewBrokerProxy(t testing.TB, amqpURL string) *BrokerProxy {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatalf("testenv: broker proxy: %v", err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	p := &BrokerProxy{ln: ln, amqpURL: u.String(), resume: make(chan struct{})}
	t.Cleanup(p.Close)
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
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(proxyReadBuffer)
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

// URL is the AMQP URL to dial the broker through the proxy.
func (p *BrokerProxy) URL() string { return p.amqpURL }

// Stall holds every client frame from now on (see BrokerProxy).
func (p *BrokerProxy) Stall() { p.stalled.Store(true) }

// Unstall forwards the held frames and everything after them again.
func (p *BrokerProxy) Unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled.Swap(false) {
		close(p.resume)
		p.resume = make(chan struct{})
	}
}

// Block sends every client connection.blocked with reason.
func (p *BrokerProxy) Block(reason string) {
	p.inject(60, append([]byte{byte(len(reason))}, reason...))
}

// Unblock sends every client connection.unblocked.
func (p *BrokerProxy) Unblock() { p.inject(61, nil) }

// Close closes every connection through the proxy and refuses new ones.
func (p *BrokerProxy) Close() {
	_ = p.ln.Close()
	p.Unstall()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// forward copies the client's frames to the broker; while stalled it
// holds them and sends the broker a heartbeat frame every second instead.
func (p *BrokerProxy) forward(c, b net.Conn) {
	defer func() { _ = b.Close() }()
	write := frameWriter(b)
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
		frame, err := readFrame(c)
		if err != nil {
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
func (p *BrokerProxy) backward(b, c net.Conn) {
	defer func() { _ = c.Close() }()
	write := frameWriter(c)
	p.mu.Lock()
	p.toClient = append(p.toClient, write)
	p.mu.Unlock()
	for {
		frame, err := readFrame(b)
		if err != nil || write(frame) != nil {
			return
		}
	}
}

// inject sends every client a connection-level method frame (class 10)
// with its arguments, as if the broker had.
func (p *BrokerProxy) inject(method uint16, args []byte) {
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

// readFrame reads one AMQP frame: type, channel, size, payload, frame end.
func readFrame(r io.Reader) ([]byte, error) {
	head := make([]byte, 7)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	frame := make([]byte, 7+int(binary.BigEndian.Uint32(head[3:]))+1)
	copy(frame, head)
	if _, err := io.ReadFull(r, frame[7:]); err != nil {
		return nil, err
	}
	return frame, nil
}

// frameWriter writes whole frames to w, one at a time.
func frameWriter(w io.Writer) func([]byte) error {
	var mu sync.Mutex
	return func(f []byte) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := w.Write(f)
		return err
	}
}

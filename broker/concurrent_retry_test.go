package broker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
)

// flakySubscriber fails its first fails Subscribe calls as watermill-amqp
// does while its connection is down, then hands out one channel per call.
type flakySubscriber struct {
	mu     sync.Mutex
	fails  int
	calls  int
	closed bool
	outs   []chan *message.Message
}

func (f *flakySubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.closed {
		return nil, errors.New("pub/sub is closedChan")
	}
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("not connected to AMQP")
	}
	c := make(chan *message.Message)
	f.outs = append(f.outs, c)
	return c, nil
}

func (f *flakySubscriber) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		for _, c := range f.outs {
			close(c)
		}
	}
	return nil
}

func (f *flakySubscriber) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// TestConcurrentSubscriberWaitsForItsConnection: a subscription made while
// the broker connection is down (a broker restarting as the worker starts)
// is retried until it is made, instead of failing the router, which
// stopped the worker. Seen in the chaos suite: a worker restarted one
// second into a broker restart exited 21 s later.
func TestConcurrentSubscriberWaitsForItsConnection(t *testing.T) {
	inner := &flakySubscriber{fails: 3}
	c := NewConcurrentSubscriber(inner, 4, time.Second, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.Subscribe(ctx, "q")
	if err != nil {
		t.Fatalf("Subscribe while the connection is down: %v", err)
	}
	inner.mu.Lock()
	made, calls := len(inner.outs), inner.calls
	inner.mu.Unlock()
	if made != 4 || calls != 7 {
		t.Fatalf("%d subscriptions in %d calls, want 4 in 7", made, calls)
	}
	msg := message.NewMessage("m1", nil)
	go func() { inner.outs[2] <- msg }()
	select {
	case got := <-out:
		if got.UUID != "m1" {
			t.Fatalf("got %s", got.UUID)
		}
		got.Ack()
	case <-ctx.Done():
		t.Fatal("no message through the subscription")
	}
	_ = c.Close()
}

// TestConcurrentSubscriberGivesUpOnAClosedSubscriber: a closed subscriber
// is not retried, and a context that ends stops the retries.
func TestConcurrentSubscriberGivesUpOnAClosedSubscriber(t *testing.T) {
	inner := &flakySubscriber{}
	_ = inner.Close()
	c := NewConcurrentSubscriber(inner, 2, time.Second, zerolog.Nop())
	if _, err := c.Subscribe(context.Background(), "q"); err == nil {
		t.Fatal("Subscribe on a closed subscriber succeeded")
	}
	inner2 := &flakySubscriber{fails: 1 << 30}
	c2 := NewConcurrentSubscriber(inner2, 2, time.Second, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c2.Subscribe(ctx, "q"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe until the context ended: %v, want context.DeadlineExceeded", err)
	}
}

package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
)

// ConcurrentSubscriber turns one watermill-amqp subscriber into n concurrent
// consumers of the same queue, and drains gracefully on Close.
//
// A watermill-amqp subscription hands out one message and waits for its ack
// before the next, so prefetch alone adds no concurrency. Each Subscribe here
// opens n subscriptions (n AMQP channels, each with its own prefetch) and
// merges them; the Watermill router runs a goroutine per message, so up to n
// messages are in flight.
//
// Close first stops handing out messages, then waits up to DrainTimeout for
// the handed-out ones to be acked or nacked, and only then closes the
// underlying subscriber. Closing it earlier would nack in-flight messages
// whose settlement is still running. Messages received but not handed out
// are held, unacked, until the underlying subscriber closes and requeues
// them, untouched, once each: nacking them at once would have the broker
// hand them straight back to the same open consumer, over and over for the
// whole drain, and on a quorum queue every such return counts towards
// x-delivery-limit, so a long drain would dead-letter (park) requests that
// were never attempted.
type ConcurrentSubscriber struct {
	Sub          message.Subscriber
	N            int
	DrainTimeout time.Duration
	Log          zerolog.Logger

	mu       sync.Mutex
	draining bool
	drainCh  chan struct{}
	released chan struct{} // closed once the drain is over
	// closed is closed once Close closed the underlying subscriber, or
	// gave up waiting for it: the merged output closes then, whether or not
	// the underlying subscriptions closed theirs.
	closed    chan struct{}
	closeOnce sync.Once
	inflight  sync.WaitGroup
	once      sync.Once
}

// NewConcurrentSubscriber wraps sub.
func NewConcurrentSubscriber(sub message.Subscriber, n int, drain time.Duration, log zerolog.Logger) *ConcurrentSubscriber {
	if n < 1 {
		n = 1
	}
	return &ConcurrentSubscriber{Sub: sub, N: n, DrainTimeout: drain, Log: log,
		drainCh: make(chan struct{}), released: make(chan struct{}), closed: make(chan struct{})}
}

// Subscribe implements message.Subscriber. When ctx ends (the router's
// context, on SIGTERM) the subscription drains and closes as on Close. The
// underlying subscriptions do not get ctx: ended by it, watermill-amqp
// closes its channel and, until it notices, opens a new one, consumes and
// closes it again, returning the prefetched message every time; on a quorum
// queue each return counts towards x-delivery-limit, and the messages at
// the head of the queue were dead-lettered (parked) by a graceful restart.
//
// Each underlying subscription is retried with backoff until it is made,
// the underlying subscriber is closed, or ctx ends: watermill-amqp refuses
// a subscription at once while its connection is down ("not connected to
// AMQP", a broker restarting as the worker starts), and the router would
// stop on that error, and the worker with it.
func (c *ConcurrentSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	subCtx := context.WithoutCancel(ctx)
	out := make(chan *message.Message)
	var wg sync.WaitGroup
	for i := 0; i < c.N; i++ {
		in, err := c.subscribeOne(ctx, subCtx, topic)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case msg, ok := <-in:
					if !ok {
						return
					}
					c.forward(msg, out)
				case <-c.closed:
					// watermill-amqp v3.1.0 closes a subscription's
					// channel only once it reconnected: with the broker
					// gone, never, and the router (the worker's
					// shutdown) would wait for this output forever.
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	// Watched only once every subscription is made: watermill-amqp v3.1.0
	// races when it is closed during Subscribe.
	go func() {
		select {
		case <-ctx.Done():
			_ = c.Close()
		case <-c.released:
		}
	}()
	return out, nil
}

// subscribeOne makes one underlying subscription (with subCtx), retrying
// until it is made, the underlying subscriber is closed, or ctx ends.
func (c *ConcurrentSubscriber) subscribeOne(ctx, subCtx context.Context, topic string) (<-chan *message.Message, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	return backoff.Retry(ctx, func() (<-chan *message.Message, error) {
		in, err := c.Sub.Subscribe(subCtx, topic)
		if err == nil {
			return in, nil
		}
		if cl, ok := c.Sub.(interface{ Closed() bool }); ok && cl.Closed() {
			return nil, backoff.Permanent(err)
		}
		c.Log.Warn().Err(err).Str("queue", topic).Msg("cannot subscribe yet (is the broker connection down?); retrying")
		return nil, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
}

func (c *ConcurrentSubscriber) forward(msg *message.Message, out chan<- *message.Message) {
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		c.hold()
		return
	}
	c.inflight.Add(1)
	c.mu.Unlock()
	select {
	case out <- msg:
		// Track it until the handler settles it.
		go func() {
			defer c.inflight.Done()
			select {
			case <-msg.Acked():
			case <-msg.Nacked():
			}
		}()
	case <-c.drainCh:
		c.inflight.Done()
		c.hold()
	}
}

// hold keeps a message that will not be handed out unacked until the drain
// is over. The underlying subscriber, still waiting for its ack, requeues
// it when Close closes it; meanwhile its consumer gets no other message.
func (c *ConcurrentSubscriber) hold() {
	<-c.released
}

// Close drains, then closes the underlying subscriber.
func (c *ConcurrentSubscriber) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.draining = true
		close(c.drainCh)
		c.mu.Unlock()
		done := make(chan struct{})
		go func() { c.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(c.DrainTimeout):
			c.Log.Warn().Dur("drain_timeout", c.DrainTimeout).Msg("in-flight messages did not finish in time; they will be redelivered")
		}
		close(c.released)
	})
	err := c.closeSub()
	c.closeOnce.Do(func() { close(c.closed) })
	return err
}

// closeSub closes the underlying subscriber within a bound. watermill-amqp
// closes its channels and then its connection, and amqp091 waits for the
// broker's answer to each without a bound: a broker that keeps the
// connection and its heartbeats alive but stopped answering held Close,
// the worker's shutdown, forever. After AnswerGrace the connection is
// closed with a deadline (which ends the channels' waits), and after
// another the subscriber is left to the process's exit (closeWithin).
func (c *ConcurrentSubscriber) closeSub() error {
	err := closeWithin(AnswerGrace, c.Sub.Close, func() {
		if w, ok := c.Sub.(interface{ Connection() *amqp.Connection }); ok {
			if conn := w.Connection(); conn != nil {
				go func() { _ = conn.CloseDeadline(time.Now()) }()
			}
		}
	})
	if errors.Is(err, errNoAnswer) {
		err = fmt.Errorf("the broker did not answer the closing of the consumers' connection within %s; left open", 2*AnswerGrace)
		c.Log.Warn().Err(err).Msg("consumer not closed")
	}
	return err
}

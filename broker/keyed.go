package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
)

// KeyedSubscriber consumes a queue with up to N messages in flight, and
// never two of the same key at once: a message waits until every earlier
// message of its key (in queue order) was acked or nacked. Statuses of one
// order are so applied in the order the provider published them (an S
// before its chargeback R), while statuses of different orders run
// concurrently.
//
// It is its own AMQP consumer (one channel, prefetch N, manual acks):
// watermill-amqp hands out one message per subscription and waits for its
// ack, and merging several subscriptions (ConcurrentSubscriber) loses the
// queue order. A connection lost is re-established with backoff; messages
// not acked by then are redelivered by the broker, in order.
type KeyedSubscriber struct {
	// URL is the broker; Passive consumes a queue the worker does not own
	// (checked with a passive declare, never declared).
	URL     string
	Passive bool
	// N bounds the messages in flight (the channel's prefetch).
	N int
	// Key orders messages: those with the same key are handled one at a
	// time, in queue order ("" is a key like any other).
	Key func(*message.Message) string
	// DrainTimeout bounds Close's wait for in-flight messages.
	DrainTimeout time.Duration
	Log          zerolog.Logger

	connected atomic.Bool
	// keys holds, per key with a message handed out (by any session) or
	// waiting, its state; gen numbers the sessions (keyedDelivery.gen).
	// A session that ends leaves its handed-out messages running: the
	// next session's messages of their keys wait for them, and the
	// messages it held back are dropped (the broker redelivers them).
	kmu  sync.Mutex
	keys map[string]*keyState
	gen  uint64

	mu       sync.Mutex
	cancel   context.CancelFunc
	stopping chan struct{} // closed by Close: hand out nothing more
	inflight sync.WaitGroup
	done     chan struct{}
}

// Subscribe starts consuming queue; the channel closes once Close was
// called (or ctx ended) and the consumer stopped.
func (k *KeyedSubscriber) Subscribe(ctx context.Context, queue string) (<-chan *message.Message, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancel != nil {
		return nil, errors.New("keyed subscriber: already subscribed")
	}
	// The caller's context (the router's, which ends at SIGTERM) does not
	// end the session at once: it stops handing out and drains, as Close
	// does, so that a message being handled is still acked on its
	// connection instead of going back to the queue and being handled
	// again. The router does not Close a subscriber whose context ended.
	outer := ctx
	ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	k.done, k.stopping = make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-outer.Done():
			_ = k.Close()
		case <-ctx.Done():
		}
	}()
	out := make(chan *message.Message)
	go func() {
		defer close(k.done)
		defer close(out)
		for ctx.Err() == nil {
			err := k.session(ctx, queue, out)
			if ctx.Err() != nil || k.stopped() {
				return
			}
			k.Log.Warn().Err(err).Str("queue", queue).Msg("keyed consumer lost its connection; reconnecting")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return out, nil
}

// session consumes on one connection until it fails or ctx ends.
func (k *KeyedSubscriber) session(ctx context.Context, queue string, out chan<- *message.Message) error {
	conn, sock, err := dialSocket(ctx, k.URL, k.Log)
	if err != nil {
		return err
	}
	// amqp091 waits for the broker's answers (close-ok, and the passive
	// declare's, prefetch's and consume's below) without a bound: a broker
	// that keeps the connection and its heartbeats alive but stopped
	// answering held Close, the worker's shutdown, forever. The connection
	// is closed as soon as ctx ends, which ends every such wait once it is
	// closed; when the broker has not answered the close within
	// AnswerGrace, its socket is closed under it (closeWithin). A deadline
	// on the connection (CloseDeadline) let Close wait up to half a
	// heartbeat more: amqp091 moves the read deadline on at every frame
	// the broker sends, its heartbeats included.
	closeConn := func() {
		_ = closeWithin(AnswerGrace, conn.Close, func() {
			if sock != nil {
				_ = sock.Close()
			}
		})
	}
	defer context.AfterFunc(ctx, closeConn)()
	defer closeConn()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if k.Passive {
		if _, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("queue %s does not exist (it belongs to the provider; consumed passively): %w", queue, err)
		}
	}
	if err := ch.Qos(max(k.N, 1), 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.ConsumeWithContext(ctx, queue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", queue, err)
	}
	k.connected.Store(true)
	defer k.connected.Store(false)

	g := k.newSession()
	var emit func(kd keyedDelivery)
	var settle func(kd keyedDelivery)
	// next hands out the key's next waiting message of this session, if
	// any, once the key's handed-out message was settled.
	next := func(key string) {
		if kd, ok := k.release(key); ok {
			emit(kd)
		}
	}
	settle = func(kd keyedDelivery) {
		retry := time.Duration(0)
		for {
			select {
			case <-kd.msg.Acked():
				_ = kd.d.Ack(false)
			case <-kd.msg.Nacked():
				// Handled again here, after a pause: requeued to the
				// broker, it would be overtaken by its key's later
				// messages. A stopping subscriber requeues it instead.
				retry = min(max(2*retry, 500*time.Millisecond), 10*time.Second)
				select {
				case <-time.After(retry):
					kd.msg = redo(ctx, kd.msg)
					select {
					case out <- kd.msg:
						continue
					case <-k.stopping:
					case <-ctx.Done():
						k.inflight.Done()
						return
					}
				case <-k.stopping:
				case <-ctx.Done():
					k.inflight.Done()
					return
				}
				_ = kd.d.Nack(false, true)
			case <-ctx.Done():
				// Abandoned: the broker redelivers it.
				k.inflight.Done()
				return
			}
			k.inflight.Done()
			next(kd.key)
			return
		}
	}
	emit = func(kd keyedDelivery) {
		select {
		case out <- kd.msg:
			go settle(kd)
		case <-k.stopping:
			_ = kd.d.Nack(false, true) // never handed out: back to the queue
			k.inflight.Done()
		case <-ctx.Done():
			k.inflight.Done()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.stopping:
			// Hand out nothing more; the handed-out messages are still
			// acked on this connection until Close ends it.
			<-ctx.Done()
			return ctx.Err()
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("delivery channel closed")
			}
			msg, err := Marshaler{}.Unmarshal(d)
			if err != nil {
				_ = d.Nack(false, true)
				continue
			}
			msg.SetContext(withReceivedAt(ctx, time.Now()))
			kd := keyedDelivery{d: d, msg: msg}
			if k.Key != nil {
				kd.key = k.Key(msg)
			}
			kd.gen = g
			k.inflight.Add(1)
			if k.admit(kd) {
				emit(kd)
			}
		}
	}
}

// redo is a fresh copy of a nacked message, to hand out again: still the
// same delivery, unacked since it was received (ReceivedAt).
func redo(ctx context.Context, msg *message.Message) *message.Message {
	cp := msg.Copy()
	if at, ok := ReceivedAt(msg); ok {
		ctx = withReceivedAt(ctx, at)
	}
	cp.SetContext(ctx)
	return cp
}

type keyedDelivery struct {
	d   amqp.Delivery
	msg *message.Message
	key string
	gen uint64 // the session that received it
}

// keyState is a key's handed-out flag and its messages waiting behind it.
type keyState struct {
	busy    bool
	waiting []keyedDelivery
}

// newSession starts a session's number and drops what earlier sessions
// held back (never handed out: the broker redelivers it on the new one).
// Keys whose message an earlier session handed out stay busy until it is
// settled.
func (k *KeyedSubscriber) newSession() uint64 {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	k.gen++
	if k.keys == nil {
		k.keys = map[string]*keyState{}
	}
	for key, st := range k.keys {
		for range st.waiting {
			k.inflight.Done()
		}
		st.waiting = nil
		if !st.busy {
			delete(k.keys, key)
		}
	}
	return k.gen
}

// admit reports whether kd is to be handed out now (its key is free);
// otherwise it waits behind its key's messages.
func (k *KeyedSubscriber) admit(kd keyedDelivery) bool {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	st := k.keys[kd.key]
	if st == nil {
		st = &keyState{}
		k.keys[kd.key] = st
	}
	if st.busy || len(st.waiting) > 0 {
		st.waiting = append(st.waiting, kd)
		return false
	}
	st.busy = true
	return true
}

// release frees key after its handed-out message was settled and returns
// the next message to hand out: the key's first waiting one of the current
// session (those of an ended session are dropped: redelivered).
func (k *KeyedSubscriber) release(key string) (keyedDelivery, bool) {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	st := k.keys[key]
	if st == nil {
		return keyedDelivery{}, false
	}
	st.busy = false
	for len(st.waiting) > 0 {
		kd := st.waiting[0]
		st.waiting = st.waiting[1:]
		if kd.gen != k.gen {
			k.inflight.Done()
			continue
		}
		st.busy = true
		return kd, true
	}
	delete(k.keys, key)
	return keyedDelivery{}, false
}

// Connected reports whether the consumer is consuming (for readiness).
func (k *KeyedSubscriber) Connected() bool { return k.connected.Load() }

func (k *KeyedSubscriber) stopped() bool {
	select {
	case <-k.stopping:
		return true
	default:
		return false
	}
}

// Close stops handing out messages (those received but not handed out go
// back to the queue), waits up to DrainTimeout for the handed-out ones to be
// acked or nacked, and closes the connection (the broker redelivers what was
// not acked).
func (k *KeyedSubscriber) Close() error {
	k.mu.Lock()
	cancel, done, stopping := k.cancel, k.done, k.stopping
	if cancel != nil && !k.stopped() {
		close(stopping)
	}
	k.mu.Unlock()
	if cancel == nil {
		return nil
	}
	drained := make(chan struct{})
	go func() { k.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(k.DrainTimeout):
		k.Log.Warn().Dur("drain_timeout", k.DrainTimeout).Msg("in-flight messages did not finish in time; they will be redelivered")
	}
	cancel()
	<-done
	return nil
}

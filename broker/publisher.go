package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
)

// ErrUnroutable is returned when the broker could not route a published
// message to any queue (a missing queue or binding).
var ErrUnroutable = errors.New("broker returned the message as unroutable")

// ErrNacked is returned when the broker refused a message (basic.nack).
var ErrNacked = errors.New("broker did not confirm the message")

// ErrUnsendable is returned for a message the publisher does not send: a
// name or property above AMQP's short string (MaxShortString), or
// properties and headers above one frame (HeadersTooLargeError).
var ErrUnsendable = errors.New("not sent")

// IsMessageRefused reports whether err is the broker refusing one message
// (ErrUnroutable, ErrNacked) on a channel and connection that still work,
// or the publisher refusing to send it (ErrUnsendable).
func IsMessageRefused(err error) bool {
	return errors.Is(err, ErrUnroutable) || errors.Is(err, ErrNacked) || errors.Is(err, ErrUnsendable)
}

// Publisher publishes with publisher confirms and the mandatory flag: Publish
// returns nil only once the broker has taken responsibility for the message
// (routed it to at least one queue and confirmed it). A lost connection is
// re-established on the next Publish.
//
// Watermill's amqp publisher has confirms too, but it derives exchange and
// routing key from one topic string; the worker publishes to several
// exchanges and to queues directly (retry and parked queues) with the same
// Marshaler, so this small publisher keeps both explicit.
type Publisher struct {
	url  string
	log  zerolog.Logger
	size int

	mu   sync.Mutex // guards conn and idle; never held while dialling
	conn *amqp.Connection
	idle []*confirmChannel
	open int
	free chan struct{}
	// dialing is held by the one caller redialling a lost connection;
	// the others wait for it only as long as their own context allows.
	dialing chan struct{}
	// blocked holds the connections the broker blocks, with its reason
	// (guarded by mu).
	blocked map[*amqp.Connection]string
}

type confirmChannel struct {
	conn    *amqp.Connection // the connection ch is on
	ch      *amqp.Channel
	returns chan amqp.Return
	closed  chan *amqp.Error
}

// NewPublisher connects (retrying until ctx ends) and returns a publisher
// with at most poolSize channels in flight at once.
func NewPublisher(ctx context.Context, amqpURL string, poolSize int, log zerolog.Logger) (*Publisher, error) {
	if poolSize < 1 {
		poolSize = 1
	}
	p := &Publisher{url: amqpURL, log: log, size: poolSize, free: make(chan struct{}, poolSize), dialing: make(chan struct{}, 1),
		blocked: map[*amqp.Connection]string{}}
	for i := 0; i < poolSize; i++ {
		p.free <- struct{}{}
	}
	conn, err := Dial(ctx, amqpURL, log)
	if err != nil {
		return nil, err
	}
	p.conn = p.watch(conn)
	return p, nil
}

// Conn returns the publisher's current connection (for topology
// declaration), redialling a lost one within ctx.
func (p *Publisher) Conn(ctx context.Context) (*amqp.Connection, error) {
	if c := p.current(); c != nil {
		return c, nil
	}
	// One caller redials (Dial retries until the broker answers or its
	// context ends); the others wait for it within their own context,
	// never for the whole of an outage another caller is willing to wait.
	select {
	case p.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to broker %s: %w", Redact(p.url), ctx.Err())
	}
	defer func() { <-p.dialing }()
	if c := p.current(); c != nil {
		return c, nil
	}
	c, err := Dial(ctx, p.url, p.log)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = nil
	p.conn = p.watch(c)
	return c, nil
}

// current returns the connection if it is open.
func (p *Publisher) current() *amqp.Connection {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil && !p.conn.IsClosed() {
		return p.conn
	}
	return nil
}

// Publish publishes msg to exchange with routing key and waits for the
// broker's confirm. It retries once on a fresh channel when the channel or
// connection was lost.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	pub, err := Marshaler{}.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal message %s: %w", messages.MaskPANs(msg.UUID), err)
	}
	// The client would fail such a publish only after taking the shared
	// connection down (a frame error), with every publish on it.
	for _, f := range []struct{ name, v string }{{"exchange", exchange}, {"routing key", key}, {"message_id", pub.MessageId},
		{"correlation_id", pub.CorrelationId}, {"type", pub.Type}, {"app_id", pub.AppId}, {"reply_to", pub.ReplyTo}, {"content_type", pub.ContentType}} {
		if len(f.v) > MaxShortString {
			return fmt.Errorf("publish message %s: its %s is %d bytes, above AMQP's %d: %w", messages.MaskPANs(msg.UUID), f.name, len(f.v), MaxShortString, ErrUnsendable)
		}
	}
	select {
	case <-p.free:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { p.free <- struct{}{} }()

	headerBytes := HeaderFrameBytes(pub) // held against each connection's frame size
	var lastErr error
	for try := 0; try < 3; try++ {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("publish to %q/%q: %w (last error: %v)", exchange, key, ctx.Err(), lastErr)
			}
		}
		cc, err := p.channel(ctx)
		if err != nil {
			lastErr = err
			continue
		}
		if max := frameMax(cc.conn); headerBytes > max {
			p.release(cc)
			return fmt.Errorf("publish message %s: %w", messages.MaskPANs(msg.UUID), &HeadersTooLargeError{Bytes: headerBytes, Max: max})
		}
		err = cc.publish(ctx, exchange, key, pub)
		switch {
		case err == nil:
			p.release(cc)
			return nil
		case ctx.Err() != nil:
			// A confirm (or return) may still arrive on this channel and
			// be mistaken for the next publish's: never reuse it.
			p.abandon(cc.conn, cc.ch)
			return fmt.Errorf("publish to %q/%q: %w", exchange, key, err)
		case IsMessageRefused(err):
			p.release(cc)
			return fmt.Errorf("publish to %q/%q: %w", exchange, key, err)
		default:
			// The channel or connection was lost: try a fresh one.
			p.abandon(cc.conn, cc.ch)
			lastErr = err
		}
	}
	return fmt.Errorf("publish to %q/%q: %w", exchange, key, lastErr)
}

func (p *Publisher) channel(ctx context.Context) (*confirmChannel, error) {
	if cc := p.idleChannel(); cc != nil {
		return cc, nil
	}
	conn, err := p.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// Opening a channel and enabling confirms wait for the broker's
	// answers, which amqp091 waits for without a bound: waited for here
	// within ctx only, the late channel closed when (if) it comes.
	type opened struct {
		cc  *confirmChannel
		err error
	}
	got := make(chan opened, 1)
	go func() {
		ch, err := conn.Channel()
		if err != nil {
			got <- opened{err: fmt.Errorf("open channel: %w", err)}
			return
		}
		if err := ch.Confirm(false); err != nil {
			p.abandon(conn, ch)
			got <- opened{err: fmt.Errorf("enable publisher confirms: %w", err)}
			return
		}
		got <- opened{cc: &confirmChannel{
			conn:    conn,
			ch:      ch,
			returns: ch.NotifyReturn(make(chan amqp.Return, 1)),
			closed:  ch.NotifyClose(make(chan *amqp.Error, 1)),
		}}
	}()
	select {
	case o := <-got:
		if o.err != nil && !conn.IsClosed() {
			// The connection may be half-dead: force a redial next time.
			p.drop(conn)
		}
		return o.cc, o.err
	case <-ctx.Done():
		go func() {
			select {
			case o := <-got:
				if o.cc != nil {
					p.abandon(conn, o.cc.ch)
					return
				}
				// Its publish has returned: logged, or the reason the
				// broker refused a channel would be lost.
				p.log.Warn().Err(o.err).Msg("a channel opened for a publish that had given up failed")
				if !conn.IsClosed() {
					p.drop(conn) // as for a failure in time: may be half-dead
				}
			case <-time.After(AnswerGrace):
				p.drop(conn)
			}
		}()
		return nil, fmt.Errorf("open a channel: the broker did not answer: %w", ctx.Err())
	}
}

// AnswerGrace is how long the publisher waits, in the background, for the
// broker to answer the opening or closing of a channel that a publish gave
// up on (its context ended first). A broker that keeps the connection and
// its heartbeats alive but answers nothing within it (RabbitMQ blocking a
// publishing connection at a resource alarm, a wedged node) has its
// connection dropped, closed without waiting for its answer either: the
// next publish dials a new one. A healthy broker answers in milliseconds.
var AnswerGrace = 5 * time.Second

// abandon closes ch, opened on conn, without waiting for the broker's
// close-ok, which amqp091 waits for without a bound; when it has not come
// within AnswerGrace, conn is dropped (closeWithin).
func (p *Publisher) abandon(conn *amqp.Connection, ch *amqp.Channel) {
	if ch.IsClosed() {
		return
	}
	go func() { _ = closeWithin(AnswerGrace, ch.Close, func() { p.drop(conn) }) }()
}

// drop forgets conn (the next publish dials a new connection) and closes
// it with a deadline instead of waiting for the broker's close-ok: its
// channels' waits end with it.
func (p *Publisher) drop(conn *amqp.Connection) {
	p.mu.Lock()
	if p.conn == conn {
		p.conn = nil
		p.idle = nil
	}
	p.mu.Unlock()
	if !conn.IsClosed() {
		p.log.Warn().Dur("grace", AnswerGrace).Msg("the broker did not answer on the publishing connection; dropping it (the next publish dials again)")
	}
	_ = conn.CloseDeadline(time.Now().Add(time.Second))
}

// idleChannel takes an open idle channel, if any.
func (p *Publisher) idleChannel() *confirmChannel {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		cc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		select {
		case <-cc.closed:
			continue
		default:
			if !cc.ch.IsClosed() {
				return cc
			}
		}
	}
	return nil
}

func (p *Publisher) release(cc *confirmChannel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !cc.ch.IsClosed() && cc.conn == p.conn {
		p.idle = append(p.idle, cc)
	}
}

func (cc *confirmChannel) publish(ctx context.Context, exchange, key string, pub amqp.Publishing) error {
	// Drain a stale return left by an earlier failed publish.
	select {
	case <-cc.returns:
	default:
	}
	dc, err := cc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, pub)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	// RabbitMQ sends basic.return before basic.ack for an unroutable
	// mandatory message, and amqp091 delivers them in that order. A closed
	// returns channel means the channel itself was closed.
	select {
	case r, open := <-cc.returns:
		if open {
			return fmt.Errorf("%w: %s (%d)", ErrUnroutable, r.ReplyText, r.ReplyCode)
		}
	default:
	}
	if !ok {
		if cc.ch.IsClosed() {
			return cc.lost()
		}
		return ErrNacked
	}
	return nil
}

// lost describes why the channel closed (retryable on a fresh channel).
func (cc *confirmChannel) lost() error {
	select {
	case e, open := <-cc.closed:
		if open && e != nil {
			return fmt.Errorf("channel closed before the confirm: %w", e)
		}
	case <-time.After(100 * time.Millisecond):
	}
	return errors.New("channel closed before the confirm")
}

// Close closes the connection, waiting at most AnswerGrace for the
// broker's close-ok (a broker that stopped answering would hold the
// worker's shutdown forever).
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		return p.conn.CloseDeadline(time.Now().Add(AnswerGrace))
	}
	return nil
}

// Ready is the publisher's readiness: its connection (redialled within ctx
// when lost), which the broker must not be blocking. At a memory or disk
// alarm RabbitMQ keeps the connection open but says connection.blocked and
// confirms nothing until connection.unblocked: open is not ready.
func (p *Publisher) Ready(ctx context.Context) error {
	c, err := p.Conn(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	reason, blocked := p.blocked[c]
	p.mu.Unlock()
	if blocked {
		return fmt.Errorf("the broker blocks publishing (connection.blocked: %q; a resource alarm: rabbitmq-diagnostics alarms): nothing is confirmed until it clears", reason)
	}
	return nil
}

// watch keeps track of whether the broker blocks conn (connection.blocked,
// connection.unblocked) until it closes.
func (p *Publisher) watch(conn *amqp.Connection) *amqp.Connection {
	blocks := conn.NotifyBlocked(make(chan amqp.Blocking, 1))
	go func() {
		for b := range blocks {
			p.mu.Lock()
			if b.Active {
				p.blocked[conn] = b.Reason
			} else {
				delete(p.blocked, conn)
			}
			p.mu.Unlock()
			if b.Active {
				p.log.Warn().Str("reason", b.Reason).Msg("the broker blocks publishing (connection.blocked): no publish is confirmed until it unblocks")
			} else {
				p.log.Info().Msg("the broker unblocked publishing")
			}
		}
		p.mu.Lock()
		delete(p.blocked, conn)
		p.mu.Unlock()
	}()
	return conn
}

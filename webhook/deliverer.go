package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
)

// Deliverer consumes status events from its own durable queue and POSTs
// them to the webhook as PaymentSettlementStatusList batches. A batch's
// messages are acked only after the webhook answered 2xx; until then they
// stay unacked on the broker, so a crash, a Close or a lost connection
// loses nothing: they are redelivered.
//
// It uses amqp091-go directly. watermill-amqp hands a subscriber one
// message at a time and waits for its Ack before the next one (the worker
// opens N subscriptions to get concurrency), so holding N unacked messages
// for one POST would mean N subscriptions and a cross-goroutine collector;
// one AMQP channel with prefetch = BatchSize does it plainly, and a single
// multiple-ack ends each batch.
type Deliverer struct {
	cfg    Config
	log    zerolog.Logger
	client *http.Client
	recent *recentIDs

	// Metrics, when set before Run, counts deliveries (nil: none).
	Metrics *Metrics

	mu      sync.Mutex
	closed  bool
	running bool
	stop    chan struct{}
	wg      sync.WaitGroup
	ready   atomic.Bool
	target  targetState
}

// New validates cfg (after applying defaults) and returns a deliverer; Run
// starts it.
func New(cfg Config, log zerolog.Logger) (*Deliverer, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook configuration: %w", err)
	}
	return &Deliverer{
		cfg: cfg,
		log: log.With().Str("component", "webhook").Str("queue", cfg.Queue).Logger(),
		// The client never follows a redirect: credentials must not be
		// replayed to another host, and a 3xx is not a delivery.
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		recent: newRecentIDs(cfg.RecentIDs),
		stop:   make(chan struct{}),
	}, nil
}

// Run consumes and delivers until ctx is cancelled or Close is called, then
// returns nil. It reconnects (with backoff) whenever the broker connection
// is lost. A batch being POSTed when it stops finishes that POST (bounded
// by HTTPTimeout) and is acked on a 2xx; anything else stays unacked and is
// redelivered to the next Run.
func (d *Deliverer) Run(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return nil
	case d.running:
		d.mu.Unlock()
		return errors.New("webhook: Run is already running")
	}
	d.running = true
	d.wg.Add(1)
	d.mu.Unlock()
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	d.log.Info().Str("config", d.cfg.String()).Msg("webhook deliverer starting")
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 200*time.Millisecond, 10*time.Second
	for {
		started := time.Now()
		err := d.session(ctx)
		if ctx.Err() != nil {
			d.log.Info().Msg("webhook deliverer stopped")
			return nil
		}
		if time.Since(started) > time.Minute {
			b.Reset()
		}
		wait := b.NextBackOff()
		d.log.Warn().Err(err).Dur("retry_in", wait).Msg("webhook session ended; reconnecting")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Close stops Run and waits for it to return: the POST in flight, if any,
// finishes; unacked statuses go back to the queue. Close is idempotent; a
// closed Deliverer does not run again (Run returns nil at once): create a
// new one.
func (d *Deliverer) Close() error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.stop)
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// Ready reports whether the deliverer is consuming its queue.
func (d *Deliverer) Ready() bool { return d.ready.Load() }

// session connects, declares the queue, consumes and delivers until the
// connection fails or ctx ends. Closing the channel on return hands every
// unacked message back to the broker.
func (d *Deliverer) session(ctx context.Context) error {
	conn, err := broker.Dial(ctx, d.cfg.AMQPURL, d.log)
	if err != nil {
		return err
	}
	defer conn.Close()
	single, err := d.declare(conn)
	if err != nil {
		return err
	}
	park, err := newParker(conn, d.cfg.ParkedQueue, d.cfg.Queue)
	if err != nil {
		return err
	}
	defer park.close()
	defer d.ready.Store(false)
	ch, deliveries, closed, err := d.subscribe(ctx, conn, single)
	if err != nil {
		return err
	}
	defer ch.Close()
	d.ready.Store(true)
	d.log.Info().Str("broker", broker.Redact(d.cfg.AMQPURL)).Msg("consuming status events")
	return d.consume(ctx, ch, deliveries, closed, park)
}

// standbyRetry is how often a deliverer standing by tries again to take
// the lock of a queue kept without a single active consumer.
var standbyRetry = 2 * time.Second

// subscribe consumes the queue with prefetch BatchSize. One deliverer
// delivers at a time, so that statuses reach the webhook in the order they
// were published (a settlement's S before its chargeback R) whatever the
// number of replicas. The queue has a single active consumer (queueArgs):
// the others are registered and stand by. A queue kept with other
// arguments (declared by an earlier version) has none, and RabbitMQ
// ignores an exclusive consume on a quorum queue: then the deliverer first
// takes a lock, the exclusive queue <Queue>.active, which lives as long as
// its connection; one refused stands by (ready: connected, it takes over
// when the other's connection ends) and tries again every standbyRetry.
func (d *Deliverer) subscribe(ctx context.Context, conn *amqp.Connection, single bool) (*amqp.Channel, <-chan amqp.Delivery, <-chan *amqp.Error, error) {
	if !single {
		if err := d.lock(ctx, conn); err != nil {
			return nil, nil, nil, err
		}
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open consumer channel: %w", err)
	}
	if err := ch.Qos(d.cfg.BatchSize, 0, false); err != nil {
		_ = ch.Close()
		return nil, nil, nil, fmt.Errorf("set prefetch: %w", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	deliveries, err := ch.Consume(d.cfg.Queue, consumerTag(), false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, nil, nil, fmt.Errorf("consume %s: %w", d.cfg.Queue, err)
	}
	return ch, deliveries, closed, nil
}

// lock declares the exclusive queue <Queue>.active on conn, waiting while
// another deliverer's connection holds it.
func (d *Deliverer) lock(ctx context.Context, conn *amqp.Connection) error {
	name := d.cfg.Queue + ".active"
	standing := false
	for {
		ch, err := conn.Channel()
		if err != nil {
			return fmt.Errorf("open lock channel: %w", err)
		}
		_, err = ch.QueueDeclare(name, false, true, true, false, amqp.Table{"x-queue-type": broker.QueueClassic})
		_ = ch.Close()
		var aerr *amqp.Error
		switch {
		case err == nil:
			if standing {
				d.log.Info().Str("lock", name).Msg("took over the queue from the deliverer that consumed it")
			}
			return nil
		case !errors.As(err, &aerr) || aerr.Code != amqp.ResourceLocked:
			return fmt.Errorf("take the lock %s: %w", name, err)
		}
		if !standing {
			standing = true
			d.log.Info().Str("lock", name).Msg("another deliverer consumes the queue (declared without a single active consumer); standing by")
		}
		d.ready.Store(true)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(standbyRetry):
		}
	}
}

// consume gathers deliveries into batches of up to BatchSize, or whatever
// arrived within BatchWait of a batch's first message, and delivers each.
func (d *Deliverer) consume(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery, closed <-chan *amqp.Error, park *parker) error {
	var (
		batch  []amqp.Delivery
		timer  *time.Timer
		timerC <-chan time.Time
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
	}
	defer stopTimer()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-closed:
			return fmt.Errorf("consumer channel closed: %v", e)
		case dl, ok := <-deliveries:
			if !ok {
				return errors.New("delivery stream ended")
			}
			batch = append(batch, dl)
			if len(batch) == 1 {
				timer = time.NewTimer(d.cfg.BatchWait)
				timerC = timer.C
			}
			if len(batch) < d.cfg.BatchSize {
				continue
			}
		case <-timerC:
		}
		stopTimer()
		err := d.flush(ctx, ch, batch, closed, park)
		batch = nil
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func consumerTag() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "settlement-webhook-" + hex.EncodeToString(b)
}

package store

import (
	"context"
	"sync"
	"time"
)

// Marker records the broker's confirmations of status events off the
// publishing path. Mark queues a confirmed event's message id and returns;
// one goroutine writes the queued ids with MarkPublishedMany, one statement
// per batch (at most MaxBatch ids, each waiting at most Linger), instead of
// one store write per event that its publisher waits for.
//
// The transactional outbox still holds: a mark is only a note that an
// event no longer needs relaying. An event whose mark is still queued (or
// lost in a crash, or in a failed write) stays unpublished in the store,
// and the relay (Store.Unpublished, the sweeper) publishes it again after
// OUTBOX_RELAY_AFTER with the same message_id: at least once, as for a
// crash between the broker's confirm and the mark. So that a confirmed
// event never looks lost in normal operation, the relay of this process
// calls Flush before reading the outbox, and OUTBOX_RELAY_AFTER is far
// above Linger (config: at least a second) for the relays of other
// replicas.
type Marker struct {
	st       Store
	linger   time.Duration
	maxBatch int
	onError  func(err error, n int)

	in      chan mark
	flushes chan chan error
	// mu orders Mark's sends against Close, as sqliteWriter's does.
	mu     sync.RWMutex
	closed bool
	quit   chan struct{}
	exited chan struct{}
	// closeErr is the error of the last write (Close's).
	closeErr error
}

// MarkerOptions tunes a Marker; zero values take the defaults.
type MarkerOptions struct {
	// Linger is how long the first mark of a batch waits for others
	// (default 50ms).
	Linger time.Duration
	// MaxBatch bounds the ids of one statement (default 256): a full batch
	// is written at once.
	MaxBatch int
	// Queue is how many marks may wait for the goroutine before Mark
	// blocks (default 4096).
	Queue int
	// OnError, when set, is told of a failed write and how many marks it
	// held (their events are relayed again later).
	OnError func(err error, n int)
}

type mark struct {
	id string
	at time.Time
}

// markWriteTimeout bounds one batch's write.
const markWriteTimeout = 30 * time.Second

// NewMarker starts a Marker writing to st. Close it before st.
func NewMarker(st Store, o MarkerOptions) *Marker {
	if o.Linger <= 0 {
		o.Linger = 50 * time.Millisecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	m := &Marker{
		st: st, linger: o.Linger, maxBatch: o.MaxBatch, onError: o.OnError,
		in: make(chan mark, o.Queue), flushes: make(chan chan error),
		quit: make(chan struct{}), exited: make(chan struct{}),
	}
	go m.run()
	return m
}

// Mark queues the note that the event messageID was confirmed by the broker
// at at. It blocks only while the queue is full; when ctx ends first, the
// mark is dropped (the relay publishes that event again). After Close it
// writes the mark itself.
func (m *Marker) Mark(ctx context.Context, messageID string, at time.Time) {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		_ = m.write([]mark{{messageID, at}})
		return
	}
	select {
	case m.in <- mark{messageID, at}:
	case <-ctx.Done():
	}
	m.mu.RUnlock()
}

// Flush returns once every mark queued before it was written (or its write
// failed: the first such error), or ctx ended.
func (m *Marker) Flush(ctx context.Context) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil
	}
	reply := make(chan error, 1)
	select {
	case m.flushes <- reply:
	case <-ctx.Done():
		m.mu.RUnlock()
		return ctx.Err()
	}
	m.mu.RUnlock()
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes the queued marks and stops the goroutine; later marks are
// written by Mark itself. It returns the error of the last write.
func (m *Marker) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.exited
		return nil
	}
	m.closed = true
	close(m.quit)
	m.mu.Unlock()
	<-m.exited
	return m.closeErr
}

func (m *Marker) run() {
	defer close(m.exited)
	var pending []mark
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lingering <-chan time.Time
	// writeAll writes pending in batches of at most maxBatch.
	writeAll := func() error {
		var first error
		for len(pending) > 0 {
			n := min(len(pending), m.maxBatch)
			if err := m.write(pending[:n]); err != nil && first == nil {
				first = err
			}
			pending = pending[n:]
		}
		pending = nil
		timer.Stop()
		lingering = nil
		return first
	}
	// drain takes every mark already queued.
	drain := func() {
		for {
			select {
			case mk := <-m.in:
				pending = append(pending, mk)
			default:
				return
			}
		}
	}
	for {
		select {
		case mk := <-m.in:
			pending = append(pending, mk)
			if len(pending) >= m.maxBatch {
				_ = writeAll()
			} else if lingering == nil {
				timer.Reset(m.linger)
				lingering = timer.C
			}
		case <-lingering:
			lingering = nil
			_ = writeAll()
		case reply := <-m.flushes:
			drain()
			reply <- writeAll()
		case <-m.quit:
			// No send is in flight any more (Close holds mu).
			drain()
			m.closeErr = writeAll()
			return
		}
	}
}

// write marks one batch, with the latest confirmation time in it (every
// event of the batch was confirmed by then).
func (m *Marker) write(batch []mark) error {
	ids := make([]string, len(batch))
	var at time.Time
	for i, mk := range batch {
		ids[i] = mk.id
		if mk.at.After(at) {
			at = mk.at
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), markWriteTimeout)
	defer cancel()
	_, err := m.st.MarkPublishedMany(ctx, ids, at)
	if err != nil && m.onError != nil {
		m.onError(err, len(batch))
	}
	return err
}

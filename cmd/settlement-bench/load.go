package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
)

// Request headers, as an order system sends them.
const (
	benchStoreID = "BENCH"
	benchTender  = "VC"
)

// newRequest is the settlement request of one benchmark message: a debit
// with a PaymentContextBase, a distinct order per request.
func newRequest(requestID, orderID string) messages.PaymentSettlementRequest {
	return messages.PaymentSettlementRequest{
		RequestID:          requestID,
		PaymentContextBase: &messages.PaymentContextBase{OrderID: orderID},
		InvoiceID:          "inv-" + requestID,
		Amount:             messages.Amount{CurrencyCode: "USD", Value: "100.00"},
		TaxAmount:          &messages.Amount{CurrencyCode: "USD", Value: "6.00"},
		SettlementType:     messages.SettlementDebit,
		FinalDebit:         "true",
		OmsOrderID:         orderID,
	}
}

// requestBody is a typical encoded request (for the reported size).
func requestBody() ([]byte, error) {
	r := newRequest("w0-000000", "ord-w0-000000")
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("benchmark request is invalid: %w", err)
	}
	return messages.Encode(r)
}

// load is one batch of requests, published with confirms from several
// goroutines with at most window outstanding, and the time each was
// published and completed (consumed, or its status event received).
type load struct {
	ids    []string
	index  map[string]int
	bodies [][]byte
	window chan struct{}
	// provider routes the requests (settlement.request.<provider>);
	// headers are each request's headers (nil: the Radial ones, benchStoreID
	// and benchTender).
	provider string
	headers  []amqp.Table

	start   time.Time
	sentAt  []atomic.Int64 // since start, +1 (0: not published)
	doneAt  []atomic.Int64 // since start, +1 (0: not completed)
	next    atomic.Int64
	done    atomic.Int64
	allDone chan struct{}
}

// newLoad encodes n Radial requests whose ids start with prefix.
func newLoad(prefix string, n, window int) (*load, error) {
	reqs := make([]loadRequest, n)
	for i := range reqs {
		id := fmt.Sprintf("%s-%06d", prefix, i)
		reqs[i] = loadRequest{id: id, orderID: "ord-" + id}
	}
	return newLoadOf("radial", reqs, window)
}

// loadRequest is one request of a load: its requestId, its order and its
// headers (nil: the Radial ones).
type loadRequest struct {
	id, orderID string
	headers     amqp.Table
}

// newLoadOf encodes reqs, to be published to provider's routing key.
func newLoadOf(provider string, reqs []loadRequest, window int) (*load, error) {
	n := len(reqs)
	l := &load{
		ids: make([]string, n), index: make(map[string]int, n), bodies: make([][]byte, n),
		window:   make(chan struct{}, window),
		provider: provider,
		sentAt:   make([]atomic.Int64, n), doneAt: make([]atomic.Int64, n),
		allDone: make(chan struct{}),
		start:   time.Now(),
	}
	for i, rq := range reqs {
		r := newRequest(rq.id, rq.orderID)
		if i == 0 {
			if err := r.Validate(); err != nil {
				return nil, fmt.Errorf("benchmark request is invalid: %w", err)
			}
		}
		b, err := messages.Encode(r)
		if err != nil {
			return nil, err
		}
		if _, dup := l.index[rq.id]; dup {
			return nil, fmt.Errorf("duplicate requestId %s in a load", rq.id)
		}
		l.ids[i], l.index[rq.id], l.bodies[i] = rq.id, i, b
		if rq.headers != nil {
			if l.headers == nil {
				l.headers = make([]amqp.Table, n)
			}
			l.headers[i] = rq.headers
		}
	}
	return l, nil
}

func (l *load) n() int { return len(l.ids) }

// complete records request i as completed and frees its window slot. It
// reports false for a request already completed (a duplicate).
func (l *load) complete(i int) bool {
	if i < 0 || i >= l.n() || l.sentAt[i].Load() == 0 {
		return false
	}
	if !l.doneAt[i].CompareAndSwap(0, int64(time.Since(l.start))+1) {
		return false
	}
	<-l.window
	if l.done.Add(1) == int64(l.n()) {
		close(l.allDone)
	}
	return true
}

// completeID completes the request with this requestId; it reports false
// for an unknown id or a duplicate.
func (l *load) completeID(id string) bool {
	i, ok := l.index[id]
	return ok && l.complete(i)
}

// run publishes every request and waits until all completed (the caller
// consumes and calls complete), limit passes, or ctx ends.
func (l *load) run(ctx context.Context, conn *amqp.Connection, publishers int, limit time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pubErr := make(chan error, 1)
	go func() { pubErr <- l.publish(ctx, conn, publishers) }()
	return l.wait(ctx, pubErr, limit)
}

// wait waits until every request completed, limit passes, ctx ends or
// pubErr (the publisher's outcome; nil: nothing is being published)
// reports an error.
func (l *load) wait(ctx context.Context, pubErr <-chan error, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case <-l.allDone:
			return nil
		case err := <-pubErr:
			if err != nil {
				return err
			}
			pubErr = nil // all published; wait for the rest
		case <-t.C:
			return fmt.Errorf("only %d of %d completed within %s", l.done.Load(), l.n(), limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitProgress waits until every request completed, failing only when none
// completed for stall (a backlog's drain takes as long as it takes).
func (l *load) waitProgress(ctx context.Context, stall time.Duration) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, since := l.done.Load(), time.Now()
	for {
		select {
		case <-l.allDone:
			return nil
		case <-tick.C:
			if d := l.done.Load(); d != last {
				last, since = d, time.Now()
			} else if time.Since(since) >= stall {
				return fmt.Errorf("only %d of %d completed; none for %s", d, l.n(), stall)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// publish publishes every request to the intake exchange from publishers
// goroutines, each on its own confirm-mode channel of conn, waiting for each
// confirm. It returns when all are confirmed, or on the first error.
func (l *load) publish(ctx context.Context, conn *amqp.Connection, publishers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, publishers)
	for range publishers {
		ch, err := conn.Channel()
		if err != nil {
			return fmt.Errorf("open publisher channel: %w", err)
		}
		if err := ch.Confirm(false); err != nil {
			return fmt.Errorf("confirm mode: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.Close()
			if err := l.publishLoop(ctx, ch); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func (l *load) publishLoop(ctx context.Context, ch *amqp.Channel) error {
	for {
		select {
		case l.window <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		i := int(l.next.Add(1) - 1)
		if i >= l.n() {
			<-l.window
			return nil
		}
		dc, err := l.publishOne(ctx, ch, i)
		if err != nil {
			return err
		}
		if err := l.confirmed(ctx, ch, dc, i); err != nil {
			return err
		}
	}
}

// publishOne publishes request i on ch (a confirm-mode channel), records
// when, and returns its deferred confirm. The caller holds its window slot.
func (l *load) publishOne(ctx context.Context, ch *amqp.Channel, i int) (*amqp.DeferredConfirmation, error) {
	headers := amqp.Table{handlers.HeaderStoreID: benchStoreID, handlers.HeaderTenderType: benchTender}
	if l.headers != nil && l.headers[i] != nil {
		headers = l.headers[i]
	}
	l.sentAt[i].Store(int64(time.Since(l.start)) + 1)
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, broker.IntakeExchange, broker.RequestRoutingKey(l.provider), true, false, amqp.Publishing{
		ContentType:  handlers.ContentTypeXML,
		DeliveryMode: amqp.Persistent,
		MessageId:    l.ids[i],
		Headers:      headers,
		Body:         l.bodies[i],
	})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", l.ids[i], err)
	}
	return dc, nil
}

// confirmed waits for the broker's confirm of request i; it returns nil
// when ctx is cancelled (the run is over), an error on a nack or a closed
// channel.
func (l *load) confirmed(ctx context.Context, ch *amqp.Channel, dc *amqp.DeferredConfirmation, i int) error {
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return fmt.Errorf("confirm of %s: %w", l.ids[i], err)
	}
	if !ok {
		if ch.IsClosed() {
			return fmt.Errorf("channel closed before the confirm of %s (was the broker restarted?)", l.ids[i])
		}
		return fmt.Errorf("broker refused (nack) %s", l.ids[i])
	}
	return nil
}

// runPaced publishes the requests open loop, request i at i × interval
// after the start (publishPaced), and waits until all completed, limit
// passes, or ctx ends. It returns how far the publisher fell behind its
// schedule at most.
func (l *load) runPaced(ctx context.Context, conn *amqp.Connection, interval, limit time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lag atomic.Int64
	pubErr := make(chan error, 1)
	go func() { pubErr <- l.publishPaced(ctx, conn, interval, &lag) }()
	err := l.wait(ctx, pubErr, limit)
	return time.Duration(lag.Load()), err
}

// publishPaced is the open-loop publisher: a ticker every interval (at
// least a millisecond) publishes, on one confirm-mode channel, every
// request due by then (dueBy: request i at i × interval after the start,
// so a late tick catches up), without waiting for the confirms, which a
// second goroutine checks in order. Completions do not pace it: the window
// is as large as the load (runWorker makes it so). lag gets the largest delay of
// a publish behind its schedule.
func (l *load) publishPaced(ctx context.Context, conn *amqp.Connection, interval time.Duration, lag *atomic.Int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open publisher channel: %w", err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode: %w", err)
	}
	type pending struct {
		dc *amqp.DeferredConfirmation
		i  int
	}
	confirms := make(chan pending, l.n())
	confirmErr := make(chan error, 1)
	go func() {
		for p := range confirms {
			if err := l.confirmed(ctx, ch, p.dc, p.i); err != nil {
				confirmErr <- err
				cancel()
				return
			}
		}
		confirmErr <- nil
	}()
	tick := time.NewTicker(max(interval, time.Millisecond))
	defer tick.Stop()
	start := time.Now()
	for next := 0; next < l.n(); {
		for due := dueBy(time.Since(start), interval, l.n()); next < due; next++ {
			l.window <- struct{}{} // never blocks: the window holds the whole load
			lag.Store(max(lag.Load(), int64(time.Since(start)-time.Duration(next)*interval)))
			dc, err := l.publishOne(ctx, ch, next)
			if err != nil {
				close(confirms)
				return err
			}
			confirms <- pending{dc, next}
		}
		if next >= l.n() {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			close(confirms)
			return <-confirmErr
		}
	}
	close(confirms)
	return <-confirmErr
}

// times returns when request id was published and completed (zero times
// when it was not).
func (l *load) times(id string) (sent, done time.Time) {
	i, ok := l.index[id]
	if !ok {
		return
	}
	if p := l.sentAt[i].Load(); p != 0 {
		sent = l.start.Add(time.Duration(p - 1))
	}
	if d := l.doneAt[i].Load(); d != 0 {
		done = l.start.Add(time.Duration(d - 1))
	}
	return sent, done
}

// lastDone is when the last request completed (zero when none did).
func (l *load) lastDone() time.Time {
	var last int64
	for i := range l.n() {
		last = max(last, l.doneAt[i].Load())
	}
	if last == 0 {
		return time.Time{}
	}
	return l.start.Add(time.Duration(last - 1))
}

// sample summarizes the completed requests.
func (l *load) sample(name string) sample {
	s := sample{name: name, n: l.n()}
	first, last := int64(-1), int64(0)
	for i := range l.n() {
		d, p := l.doneAt[i].Load(), l.sentAt[i].Load()
		if p != 0 && (first < 0 || p < first) {
			first = p
		}
		if d == 0 || p == 0 {
			continue
		}
		s.lat = append(s.lat, time.Duration(d-p))
		last = max(last, d)
	}
	if first >= 0 && last > first {
		s.elapsed = time.Duration(last - first)
	}
	s.sort()
	return s
}

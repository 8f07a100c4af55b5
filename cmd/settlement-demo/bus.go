package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
)

// bus is the demo's side of the broker: the order system publishing
// requests and subscribing to status events.
type bus struct {
	conn   *amqp.Connection // our broker (AMQP_URL)
	radial string           // Radial's vhost URL, for checks only

	pubMu sync.Mutex
	pub   *amqp.Channel // confirm mode, mandatory publishes

	retMu    sync.Mutex
	returned map[string]string // message_id → reply text of unroutable publishes
}

// dialBus connects to our broker and checks Radial's vhost answers.
func dialBus(amqpURL, radialURL string) (*bus, error) {
	rc, err := amqp.Dial(radialURL)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to Radial's vhost %s: %w (is the broker up, with the radial vhost? make broker-up starts a local one)", broker.Redact(radialURL), err)
	}
	rc.Close()
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Properties: amqp.Table{"connection_name": "settlement-demo (order system)"}})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the broker %s: %w (make broker-up starts one)", broker.Redact(amqpURL), err)
	}
	b := &bus{conn: conn, radial: radialURL, returned: map[string]string{}}
	if b.pub, err = conn.Channel(); err != nil {
		conn.Close()
		return nil, err
	}
	if err := b.pub.Confirm(false); err != nil {
		conn.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	returns := b.pub.NotifyReturn(make(chan amqp.Return, 16))
	go func() {
		for r := range returns {
			b.retMu.Lock()
			b.returned[r.MessageId] = fmt.Sprintf("%d %s", r.ReplyCode, r.ReplyText)
			b.retMu.Unlock()
		}
	}()
	return b, nil
}

func (b *bus) close() {
	if b.conn != nil {
		_ = b.conn.Close()
	}
}

// queueInfo declares a queue passively on url (a fresh channel, since a
// missing queue closes it); exists is false when it does not exist.
func queueInfo(conn *amqp.Connection, name string) (q amqp.Queue, exists bool, err error) {
	ch, err := conn.Channel()
	if err != nil {
		return q, false, err
	}
	defer ch.Close()
	q, err = ch.QueueDeclarePassive(name, true, false, false, false, nil)
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		return q, false, nil
	}
	return q, err == nil, err
}

// checkNobodyElseConsumes refuses to run when another worker already
// consumes a request queue or Radial's status queue: it would take some
// of the demo's messages and settle them with another sandbox.
func (b *bus) checkNobodyElseConsumes(radialQueue string) error {
	check := func(conn *amqp.Connection, where, name string) error {
		q, ok, err := queueInfo(conn, name)
		if err != nil {
			return fmt.Errorf("checking %s: %w", name, err)
		}
		if ok && q.Consumers > 0 {
			return fmt.Errorf("%d consumer(s) already read %s on %s: another settlement worker is running there and would take the demo's messages; stop it first", q.Consumers, name, where)
		}
		return nil
	}
	for _, p := range allProviders {
		if err := check(b.conn, "our broker", broker.RequestQueue(p)); err != nil {
			return err
		}
	}
	rc, err := amqp.Dial(b.radial)
	if err != nil {
		return err
	}
	defer rc.Close()
	return check(rc, "Radial's vhost", radialQueue)
}

// leftovers counts the requests waiting in the request queues and the
// demo's retry queues (an earlier run interrupted mid-way leaves some).
func (b *bus) leftovers() (n int, queues []string) {
	var names []string
	for _, p := range allProviders {
		names = append(names, broker.RequestQueue(p))
		for _, d := range strings.Split(retryDelays, ",") {
			if dur, err := time.ParseDuration(d); err == nil {
				names = append(names, broker.RetryQueue(p, dur))
			}
		}
	}
	for _, q := range names {
		if m := queueDepth(b.conn, q); m > 0 {
			n += m
			queues = append(queues, q)
		}
	}
	return n, queues
}

// waitQueue waits until the worker declared a queue.
func (b *bus) waitQueue(ctx context.Context, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, ok, err := queueInfo(b.conn, name)
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("it does not exist")
			}
			return fmt.Errorf("queue %s: %w (the worker declares it at start)", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publish sends a settlement request as the order system does: to the
// intake exchange with the provider's routing key, persistent, mandatory,
// and waits for the broker's confirm.
func (b *bus) publish(ctx context.Context, s *scenario) error {
	h := amqp.Table{headerStoreID: s.store, "demo_request": s.id}
	if s.tender != "" {
		h[headerTenderType] = s.tender
	}
	if s.authAmt != "" {
		h[headerOriginalAuthAmount] = s.authAmt
	}
	for k, v := range s.headers {
		h[k] = v
	}
	msg := amqp.Publishing{
		ContentType:  contentTypeXML,
		DeliveryMode: amqp.Persistent,
		MessageId:    s.id,
		Timestamp:    time.Now(),
		AppId:        "settlement-demo",
		Headers:      h,
		Body:         s.body,
	}
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dc, err := b.pub.PublishWithDeferredConfirmWithContext(cctx, broker.IntakeExchange, broker.RequestRoutingKey(s.provider), true, false, msg)
	if err != nil {
		return fmt.Errorf("publish %s: %w", s.id, err)
	}
	acked, err := dc.WaitContext(cctx)
	if err != nil {
		return fmt.Errorf("publish %s: waiting for the confirm: %w", s.id, err)
	}
	if !acked {
		return fmt.Errorf("publish %s: the broker nacked it", s.id)
	}
	// A basic.return precedes the ack of the same message; give its
	// notification a moment to be handed over.
	time.Sleep(2 * time.Millisecond)
	b.retMu.Lock()
	why, returned := b.returned[s.id]
	b.retMu.Unlock()
	if returned {
		return fmt.Errorf("publish %s: unroutable (%s): is the request queue bound?", s.id, why)
	}
	return nil
}

// consume subscribes to our status queue and hands every delivery to f,
// acking it afterwards.
func (b *bus) consume(ctx context.Context, queue string, f func(amqp.Delivery)) error {
	ch, err := b.conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Qos(50, 0, false); err != nil {
		return err
	}
	ds, err := ch.Consume(queue, "settlement-demo", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", queue, err)
	}
	go func() {
		for d := range ds {
			f(d)
			_ = d.Ack(false)
		}
	}()
	return nil
}

// readParked takes the message with message_id (or demo_request header)
// id from the parked queue, polling until it is there. Other parked
// messages are left in the queue (requeued when the channel closes).
func (b *bus) readParked(ctx context.Context, queue, id string) (amqp.Delivery, error) {
	ch, err := b.conn.Channel()
	if err != nil {
		return amqp.Delivery{}, err
	}
	defer ch.Close()
	for {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			return amqp.Delivery{}, fmt.Errorf("reading %s: %w", queue, err)
		}
		if ok {
			if d.MessageId == id || broker.Stringify(d.Headers["demo_request"]) == id {
				_ = d.Ack(false)
				return d, nil
			}
			continue // not ours: stays unacked until the channel closes
		}
		select {
		case <-ctx.Done():
			return amqp.Delivery{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

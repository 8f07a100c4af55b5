package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
)

// Headers set on a parked status message (the worker's names,
// handlers.HeaderParked*).
const (
	headerParkedReason = "parked_reason"
	headerParkedAt     = "parked_at"
	headerParkedFrom   = "parked_from_queue"
)

// declare declares the status exchange (idempotent: the deliverer may start
// before the worker), the deliverer's queue with its bindings, and the
// parked queue. A queue that exists with other arguments is kept as it is.
// single reports whether the queue has the arguments declared here, so a
// single active consumer (queueArgs); when it was kept with others, the
// deliverer consumes it exclusively instead (session).
func (d *Deliverer) declare(conn *amqp.Connection) (single bool, err error) {
	ch, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	if err := ch.ExchangeDeclare(broker.StatusExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return false, fmt.Errorf("declare exchange %s: %w", broker.StatusExchange, err)
	}
	if ch, _, err = d.declareQueue(conn, ch, d.cfg.ParkedQueue, nil); err != nil {
		return false, err
	}
	kept := false
	if ch, kept, err = d.declareQueue(conn, ch, d.cfg.Queue, d.queueArgs()); err != nil {
		return false, err
	}
	for _, key := range d.cfg.BindingKeys {
		if err := ch.QueueBind(d.cfg.Queue, key, broker.StatusExchange, false, nil); err != nil {
			return false, fmt.Errorf("bind %s to %s with %s: %w", d.cfg.Queue, broker.StatusExchange, key, err)
		}
	}
	return !kept, nil
}

// queueArgs are the deliverer's queue's arguments beyond its type.
//
// A single active consumer: every worker replica runs a deliverer on this
// queue, and competing consumers would deliver one settlement's events out
// of order (its S held by one replica whose POST failed, its later
// chargeback R delivered by another first: the receiver ends at S). With
// it, one deliverer consumes and the others stand by, taking over, in
// order, the statuses the first leaves unacked.
//
// A quorum queue also dead-letters, at least once, to the parked queue:
// every requeue of a batch held while the webhook is down (a restart, a
// lost connection, consumer_timeout) counts towards a delivery limit,
// which RabbitMQ 4.0-4.2 set to 20 on every quorum queue by default (or a
// policy sets), and past it a message with no dead-letter route is
// dropped. With the route, it is parked, where a person finds it.
func (d *Deliverer) queueArgs() amqp.Table {
	args := amqp.Table{"x-single-active-consumer": true}
	if d.cfg.QueueType != broker.QueueQuorum {
		return args
	}
	args["x-dead-letter-exchange"] = ""
	args["x-dead-letter-routing-key"] = d.cfg.ParkedQueue
	args["x-dead-letter-strategy"] = "at-least-once"
	args["x-overflow"] = "reject-publish"
	return args
}

// declareQueue declares a durable queue of the configured type with args.
// When the queue exists with other arguments (RabbitMQ refuses with 406
// and closes the channel) it reopens a channel, checks the queue exists and
// keeps it (kept).
func (d *Deliverer) declareQueue(conn *amqp.Connection, ch *amqp.Channel, name string, args amqp.Table) (_ *amqp.Channel, kept bool, _ error) {
	all := amqp.Table{"x-queue-type": d.cfg.QueueType}
	for k, v := range args {
		all[k] = v
	}
	_, err := ch.QueueDeclare(name, true, false, false, false, all)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.PreconditionFailed {
		if ch, err = conn.Channel(); err != nil {
			return nil, false, fmt.Errorf("reopen channel: %w", err)
		}
		if _, perr := ch.QueueDeclarePassive(name, true, false, false, false, nil); perr != nil {
			return nil, false, fmt.Errorf("declare queue %s: %w", name, perr)
		}
		d.log.Warn().Str("queue", name).Str("reason", aerr.Reason).Msg("queue exists with other arguments than configured; keeping it")
		return ch, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("declare queue %s (%s): %w", name, d.cfg.QueueType, err)
	}
	return ch, false, nil
}

// parker republishes undecodable status messages to the parked queue with
// publisher confirms, body and properties intact.
type parker struct {
	ch      *amqp.Channel
	returns chan amqp.Return
	queue   string
	from    string
}

func newParker(conn *amqp.Connection, queue, from string) (*parker, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open parking channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable confirms on the parking channel: %w", err)
	}
	return &parker{ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, 1)), queue: queue, from: from}, nil
}

func (p *parker) close() { _ = p.ch.Close() }

// park publishes dl to the parked queue (default exchange, mandatory) and
// waits for the confirm; the caller acks dl only after it returns nil.
func (p *parker) park(ctx context.Context, dl amqp.Delivery, reason string) error {
	headers := amqp.Table{}
	for k, v := range dl.Headers {
		if k == "x-death" || k == "x-delivery-count" {
			continue
		}
		headers[k] = v
	}
	headers[headerParkedReason] = reason
	headers[headerParkedAt] = time.Now().UTC().Format(time.RFC3339)
	headers[headerParkedFrom] = p.from
	pub := amqp.Publishing{
		Headers: headers, ContentType: dl.ContentType, ContentEncoding: dl.ContentEncoding,
		DeliveryMode: amqp.Persistent, CorrelationId: dl.CorrelationId, MessageId: dl.MessageId,
		Timestamp: dl.Timestamp, Type: dl.Type, AppId: dl.AppId, Body: dl.Body,
	}
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, "", p.queue, true, false, pub)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	select {
	case r := <-p.returns:
		return fmt.Errorf("parked queue %s did not take the message: %s", p.queue, r.ReplyText)
	default:
	}
	if !ok {
		return fmt.Errorf("broker refused the parked copy (nack)")
	}
	return nil
}

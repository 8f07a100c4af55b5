package broker

import (
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Queue types.
const (
	QueueQuorum  = "quorum"
	QueueClassic = "classic"
)

// StatusQueue is a status queue the worker declares and binds to the status
// exchange so that status events are never published into the void.
type StatusQueue struct {
	// Name of the queue, e.g. q.Payments.Settlements.Status.guest.
	Name string
	// BindingKey on StatusExchange, e.g. settlement.status.# (all stores).
	BindingKey string
}

// Topology is everything the worker declares on its broker at start. All
// declarations are idempotent; arguments are fixed by the queue name (a retry
// queue's delay is in its name), so a changed configuration declares new
// queues instead of failing on existing ones.
type Topology struct {
	// Providers whose request, retry and parked queues are declared.
	Providers []string
	// QueueType is quorum (default; replicated, at-least-once dead-lettering)
	// or classic.
	QueueType string
	// RetryDelays are the waits before attempt 2, 3, ...; one retry queue each.
	RetryDelays []time.Duration
	// DeliveryLimit guards against poison messages that crash the worker
	// before it can ack: after this many deliveries a quorum queue
	// dead-letters the message to the parked queue. 0 disables it.
	DeliveryLimit int
	// StatusQueues are declared and bound to StatusExchange.
	StatusQueues []StatusQueue
	// Warn, when set, is told about existing queues kept with arguments
	// other than configured.
	Warn func(string)
	// ParkProviderStatuses lists providers whose asynchronous statuses may be
	// parked (Radial): their ProviderStatusParkedQueue is declared.
	ParkProviderStatuses []string
}

// Declare declares the exchanges, queues and bindings on conn.
//
// A queue that already exists with other arguments (a changed
// DELIVERY_LIMIT or QUEUE_TYPE: RabbitMQ refuses to redeclare it,
// 406 PRECONDITION_FAILED) is kept as it is, and Warn is called: changing
// such an argument means deleting the queue or applying a policy.
func (t Topology) Declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	d := &declarer{t: t, conn: conn, ch: ch}
	return d.declare()
}

type declarer struct {
	t    Topology
	conn *amqp.Connection
	ch   *amqp.Channel
}

func (d *declarer) declare() error {
	t := d.t
	for _, ex := range []string{IntakeExchange, StatusExchange} {
		if err := d.ch.ExchangeDeclare(ex, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", ex, err)
		}
	}
	for _, p := range t.Providers {
		parked := ParkedQueue(p)
		if err := d.queue(parked, nil); err != nil {
			return err
		}
		args := amqp.Table{}
		if t.QueueType != QueueClassic {
			// Dead-lettered to the parked queue whatever the limit: with
			// DeliveryLimit 0 the worker sets none, but RabbitMQ 4.0-4.2
			// give every quorum queue one (20), and a policy may.
			args["x-dead-letter-exchange"] = ""
			args["x-dead-letter-routing-key"] = parked
			args["x-dead-letter-strategy"] = "at-least-once"
			args["x-overflow"] = "reject-publish"
			if t.DeliveryLimit > 0 {
				args["x-delivery-limit"] = int64(t.DeliveryLimit)
			}
		}
		q := RequestQueue(p)
		if err := d.queue(q, args); err != nil {
			return err
		}
		if err := d.ch.QueueBind(q, RequestRoutingKey(p), IntakeExchange, false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", q, err)
		}
		for _, delay := range t.RetryDelays {
			rargs := amqp.Table{
				"x-message-ttl":             delay.Milliseconds(),
				"x-dead-letter-exchange":    "",
				"x-dead-letter-routing-key": q,
			}
			if t.QueueType != QueueClassic {
				// At-least-once dead-lettering: a retry never vanishes
				// between the retry queue and the request queue.
				rargs["x-dead-letter-strategy"] = "at-least-once"
				rargs["x-overflow"] = "reject-publish"
			}
			if err := d.queue(RetryQueue(p, delay), rargs); err != nil {
				return err
			}
		}
	}
	for _, p := range t.ParkProviderStatuses {
		if err := d.queue(ProviderStatusParkedQueue(p), nil); err != nil {
			return err
		}
	}
	for _, sq := range t.StatusQueues {
		if err := d.queue(sq.Name, nil); err != nil {
			return err
		}
		if err := d.ch.QueueBind(sq.Name, sq.BindingKey, StatusExchange, false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", sq.Name, err)
		}
	}
	return nil
}

func (d *declarer) queue(name string, args amqp.Table) error {
	if args == nil {
		args = amqp.Table{}
	}
	qt := d.t.QueueType
	if qt == "" {
		qt = QueueQuorum
	}
	args["x-queue-type"] = qt
	_, err := d.ch.QueueDeclare(name, true, false, false, false, args)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.PreconditionFailed {
		// The channel is closed by the refusal: reopen it and keep the
		// existing queue if it is there.
		if d.ch, err = d.conn.Channel(); err != nil {
			return fmt.Errorf("reopen channel: %w", err)
		}
		if _, perr := d.ch.QueueDeclarePassive(name, true, false, false, false, nil); perr != nil {
			return fmt.Errorf("declare queue %s (%s): %w", name, qt, perr)
		}
		if d.t.Warn != nil {
			d.t.Warn(fmt.Sprintf("queue %s exists with other arguments than configured (%s); keeping it: delete it or use a policy to change them", name, aerr.Reason))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("declare queue %s (%s): %w", name, qt, err)
	}
	return nil
}

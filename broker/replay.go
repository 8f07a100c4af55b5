package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// replayDropped are headers removed from a parked message when it is
// replayed, so that it starts again as a first attempt.
var replayDropped = []string{"parked_", "settlement_attempt", "settlement_last_error", "settlement_poll"}

// ReplayOptions says what Replay moves.
type ReplayOptions struct {
	// Parked is the queue to replay from.
	Parked string
	// Fallback is the target of a message without a parked_from_queue header.
	Fallback string
	// Limit caps the messages moved (all when <= 0).
	Limit int
	// DryRun reads the messages without moving them.
	DryRun bool
}

// ReplayedMessage describes one message replayed (or, in a dry run, that
// would be).
type ReplayedMessage struct {
	RequestID string // message_id, else the request_id header
	Reason    string // parked_reason header
	Target    string // queue it is (would be) republished to
}

// ReplayResult is what a Replay did.
type ReplayResult struct {
	// Parked is the parked queue's depth when the replay started.
	Parked int
	// Moved is the number of messages republished and acked (0 in a dry run).
	Moved int
	// Messages lists the messages moved, or in a dry run those that would be.
	Messages []ReplayedMessage
}

// Replay moves the messages of o.Parked back to the queue named in their
// parked_from_queue header (or to o.Fallback), body and properties intact,
// with the parking and attempt headers removed.
//
// It moves at most the parked queue's depth measured when it starts (and at
// most o.Limit when > 0), so a worker parking the replayed messages again
// cannot make it loop. Each message is acked in the parked queue only after
// its republication was routed to a queue and confirmed: a crash during a
// replay duplicates at worst (which the worker's idempotency absorbs), and a
// republication the broker returns as unroutable (no such queue) or nacks
// leaves the message parked (nack with requeue) and ends the replay with an
// error naming the target queue.
//
// With o.DryRun, Replay reads the messages it would move, lists them in the
// result and requeues them all (basic.nack, which does not count as a failed
// delivery against a quorum queue's delivery limit); nothing moves.
func Replay(ctx context.Context, amqpURL string, o ReplayOptions) (ReplayResult, error) {
	var res ReplayResult
	conn, err := amqp.DialConfig(amqpURL, dialConfig("settlement-worker-replay"))
	if err != nil {
		return res, fmt.Errorf("connect to %s: %w", Redact(amqpURL), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return res, err
	}
	q, err := ch.QueueDeclarePassive(o.Parked, true, false, false, false, nil)
	if err != nil {
		return res, fmt.Errorf("parked queue %s: %w", o.Parked, err)
	}
	res.Parked = q.Messages
	max := q.Messages
	if o.Limit > 0 && o.Limit < max {
		max = o.Limit
	}
	if o.DryRun {
		return dryRun(ctx, ch, o, max, res)
	}
	if err := ch.Confirm(false); err != nil {
		return res, err
	}
	// The broker sends basic.return before the publish's confirm, and the
	// channel delivers it here before the confirm: after the confirm a
	// return for this publish, if any, is already buffered.
	returns := ch.NotifyReturn(make(chan amqp.Return, 8))
	for res.Moved < max {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d, ok, err := ch.Get(o.Parked, false)
		if err != nil {
			return res, fmt.Errorf("get from %s: %w", o.Parked, err)
		}
		if !ok {
			break
		}
		m := describe(d, o.Fallback)
		drain(returns)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", m.Target, true, false, republication(d))
		if err != nil {
			_ = d.Nack(false, true)
			return res, fmt.Errorf("republish %s to %s: %w", m.RequestID, m.Target, err)
		}
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			_ = d.Nack(false, true)
			if err == nil {
				err = errors.New("nacked by the broker")
			}
			return res, fmt.Errorf("republish %s to %s not confirmed: %w", m.RequestID, m.Target, err)
		}
		select {
		case r := <-returns:
			_ = d.Nack(false, true)
			return res, fmt.Errorf("republish %s to %s: unroutable (%d %s): does queue %s exist? the message stays in %s",
				m.RequestID, m.Target, r.ReplyCode, r.ReplyText, m.Target, o.Parked)
		default:
		}
		if err := d.Ack(false); err != nil {
			return res, err
		}
		res.Moved++
		res.Messages = append(res.Messages, m)
	}
	return res, nil
}

// dryRun gets up to max messages without acking them, lists them, and
// requeues them all at the end (holding them unacked meanwhile so none is
// read twice).
func dryRun(ctx context.Context, ch *amqp.Channel, o ReplayOptions, max int, res ReplayResult) (ReplayResult, error) {
	var last *amqp.Delivery
	requeue := func() {
		if last != nil {
			_ = last.Nack(true, true)
		}
	}
	for len(res.Messages) < max {
		if err := ctx.Err(); err != nil {
			requeue()
			return res, err
		}
		d, ok, err := ch.Get(o.Parked, false)
		if err != nil {
			requeue()
			return res, fmt.Errorf("get from %s: %w", o.Parked, err)
		}
		if !ok {
			break
		}
		last = &d
		res.Messages = append(res.Messages, describe(d, o.Fallback))
	}
	requeue()
	return res, nil
}

func describe(d amqp.Delivery, fallback string) ReplayedMessage {
	m := ReplayedMessage{RequestID: d.MessageId, Target: fallback}
	if m.RequestID == "" {
		m.RequestID, _ = d.Headers["request_id"].(string)
	}
	m.Reason, _ = d.Headers["parked_reason"].(string)
	if v, ok := d.Headers["parked_from_queue"].(string); ok && v != "" {
		m.Target = v
	}
	return m
}

func republication(d amqp.Delivery) amqp.Publishing {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		if !dropOnReplay(k) && !isBrokerOwned(k) {
			headers[k] = v
		}
	}
	return amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type,
		UserId: d.UserId, AppId: d.AppId, Body: d.Body,
	}
}

func drain(c <-chan amqp.Return) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func dropOnReplay(k string) bool {
	for _, p := range replayDropped {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

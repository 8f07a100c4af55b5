package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/messages"
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
	// Target, when set, is the target of every message, whatever its
	// parked_from_queue header says: a message the broker dead-lettered
	// (a delivery limit) carries its publisher's headers, not the
	// worker's, so that header may name any queue.
	Target string
	// Limit caps the messages moved (all when <= 0); with Match, the
	// matching messages.
	Limit int
	// DryRun reads the messages without moving them.
	DryRun bool
	// Match, when set, selects the messages to move; every other message
	// read is put back in the parked queue untouched, in its order.
	Match func(amqp.Delivery) bool
	// Purge deletes the selected messages (acks them) instead of
	// republishing them.
	Purge bool
	// Progress, when set, is called after every message read with the
	// number read so far and the parked queue's depth at the start.
	Progress func(read, depth int)
	// MAC, when set, signs each republished copy: its HeaderReplayMAC is
	// MAC(ReplayMACInput(...)) (store.Keyring.MAC, the worker's
	// STORE_ENCRYPTION_KEY), which the worker checks before it takes the
	// copy for a replay.
	MAC func([]byte) string
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
	// Read is the number of messages read (moved or put back).
	Read int
	// Moved is the number of messages republished and acked, or with Purge
	// deleted (0 in a dry run).
	Moved int
	// Messages lists the messages moved, or in a dry run those that would be.
	Messages []ReplayedMessage
}

// Replay moves the messages of o.Parked back to the queue named in their
// parked_from_queue header (or to o.Fallback), body and properties intact,
// with the parking and attempt headers removed. It dials amqpURL; ReplayOn
// uses an open connection.
func Replay(ctx context.Context, amqpURL string, o ReplayOptions) (ReplayResult, error) {
	conn, err := dialGuarded(amqpURL, dialConfig("settlement-worker-replay"))
	if err != nil {
		return ReplayResult{}, fmt.Errorf("connect to %s: %w", Redact(amqpURL), err)
	}
	defer conn.Close()
	return ReplayOn(ctx, conn, o)
}

// ReplayOn is Replay on an open connection (it opens a channel of its own).
//
// It reads at most the parked queue's depth measured when it starts (and
// moves at most o.Limit when > 0), so a worker parking the replayed messages
// again cannot make it loop. Each message is acked in the parked queue only
// after its republication was routed to a queue and confirmed: a crash during
// a replay duplicates at worst (which the worker's idempotency absorbs), and
// a republication the broker returns as unroutable (no such queue) or nacks
// leaves the message parked and ends the replay with an error naming the
// target queue.
//
// Messages that are not moved (not matching o.Match, in a dry run, or after
// a failure) are held unacknowledged until the end and then all put back at
// once with one basic.nack (multiple, requeue): holding them means none is
// read twice, and requeueing them together keeps their order. When any is
// held, the rest of the depth measured at the start is read and held too
// before the nack (after o.Limit is reached, after a failure, or when ctx
// ends), because RabbitMQ 3.x quorum queues requeue at the tail: put back
// alone, the held messages would move behind those not read. Messages
// parked while ReplayOn runs end up ahead of those put back. If the process
// dies meanwhile, the broker requeues the held messages itself when the
// connection closes.
//
// Requeueing is a delivery for a quorum queue: RabbitMQ 3.x counts it in
// x-delivery-count (the parked queues have no delivery limit there), 4.3 and
// later do not count a basic.nack, but 4.0 to 4.2 count every return
// against the default delivery limit of 20 (see the README).
//
// With o.DryRun, ReplayOn lists the messages it would move in the result and
// moves nothing. With o.Purge, it deletes the selected messages.
func ReplayOn(ctx context.Context, conn *amqp.Connection, o ReplayOptions) (res ReplayResult, err error) {
	ch, err := conn.Channel()
	if err != nil {
		return res, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(o.Parked, true, false, false, false, nil)
	if err != nil {
		return res, fmt.Errorf("parked queue %s: %w", o.Parked, err)
	}
	res.Parked = q.Messages
	republish := !o.DryRun && !o.Purge
	var returns chan amqp.Return
	if republish {
		if err := ch.Confirm(false); err != nil {
			return res, err
		}
		// The broker sends basic.return before the publish's confirm, and
		// the channel delivers it here before the confirm: after the
		// confirm a return for this publish, if any, is already buffered.
		returns = ch.NotifyReturn(make(chan amqp.Return, 8))
	}
	// held is the highest delivery tag held unacked: a nack with multiple
	// puts back every message still unacked up to it.
	var held uint64
	defer func() {
		if held == 0 {
			return
		}
		// Read the rest of what was there at the start too, so that
		// everything put back is requeued together: RabbitMQ 3.x quorum
		// queues requeue at the tail, behind messages not read yet.
		for res.Read < res.Parked {
			d, ok, gerr := ch.Get(o.Parked, false)
			if gerr != nil || !ok {
				break
			}
			res.Read++
			held = d.DeliveryTag
			if o.Progress != nil {
				o.Progress(res.Read, res.Parked)
			}
		}
		if nerr := ch.Nack(held, true, true); nerr != nil && err == nil {
			err = fmt.Errorf("put the messages read back in %s: %w (they are requeued when the connection closes)", o.Parked, nerr)
		}
	}()
	for res.Read < res.Parked && (o.Limit <= 0 || len(res.Messages) < o.Limit) {
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
		res.Read++
		if o.Progress != nil {
			o.Progress(res.Read, res.Parked)
		}
		if o.Match != nil && !o.Match(d) {
			held = d.DeliveryTag
			continue
		}
		m := describe(d, o.Fallback)
		if o.Target != "" {
			m.Target = o.Target
		}
		if o.DryRun {
			held = d.DeliveryTag
			res.Messages = append(res.Messages, m)
			continue
		}
		if republish {
			if err := republishConfirmed(ctx, ch, returns, d, m, o.Parked, o.MAC); err != nil {
				held = d.DeliveryTag
				return res, err
			}
		}
		if err := d.Ack(false); err != nil {
			return res, err
		}
		res.Moved++
		res.Messages = append(res.Messages, m)
	}
	return res, nil
}

// republishConfirmed publishes d's republication to m.Target and waits for
// the broker's confirm; a nack or a return (no such queue) is an error.
func republishConfirmed(ctx context.Context, ch *amqp.Channel, returns chan amqp.Return, d amqp.Delivery, m ReplayedMessage, parked string, mac func([]byte) string) error {
	drain(returns)
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", m.Target, true, false, republication(d, mac))
	if err != nil {
		return fmt.Errorf("republish %s to %s: %w", messages.MaskPANs(m.RequestID), m.Target, err)
	}
	if ok, err := dc.WaitContext(ctx); err != nil || !ok {
		if err == nil {
			err = errors.New("nacked by the broker")
		}
		return fmt.Errorf("republish %s to %s not confirmed: %w", messages.MaskPANs(m.RequestID), m.Target, err)
	}
	select {
	case r := <-returns:
		return fmt.Errorf("republish %s to %s: unroutable (%d %s): does queue %s exist? the message stays in %s",
			messages.MaskPANs(m.RequestID), m.Target, r.ReplyCode, r.ReplyText, m.Target, parked)
	default:
	}
	return nil
}

// Browse reads the messages that were in queue when it started, hands each
// to visit, and puts them all back in their order (see ReplayOn: they are
// held unacked, then requeued together). It returns the queue's depth at the
// start and how many messages it read: fewer when another client holds some
// unacked.
func Browse(ctx context.Context, conn *amqp.Connection, queue string, visit func(amqp.Delivery)) (depth, read int, err error) {
	res, err := ReplayOn(ctx, conn, ReplayOptions{Parked: queue, DryRun: true, Match: func(d amqp.Delivery) bool {
		visit(d)
		return false
	}})
	return res.Parked, res.Read, err
}

// QueueState is what a passive declare tells about a queue.
type QueueState struct {
	Name string
	// Exists is false when the queue was never declared (or was deleted).
	Exists bool
	// Messages are the ready messages (unacked ones are not counted).
	Messages  int
	Consumers int
}

// Inspect returns queue's depth and consumers from a passive declare, on a
// channel of its own (a missing queue closes the channel it is asked on).
func Inspect(conn *amqp.Connection, queue string) (QueueState, error) {
	s := QueueState{Name: queue}
	ch, err := conn.Channel()
	if err != nil {
		return s, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if IsNotFound(err) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("queue %s: %w", queue, err)
	}
	s.Exists, s.Messages, s.Consumers = true, q.Messages, q.Consumers
	return s, nil
}

// IsNotFound reports whether err is the broker's 404 NOT_FOUND (no such
// queue or exchange).
func IsNotFound(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.NotFound
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

func republication(d amqp.Delivery, mac func([]byte) string) amqp.Publishing {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		if !dropOnReplay(k) && !isBrokerOwned(k) {
			headers[k] = v
		}
	}
	now := time.Now()
	headers[HeaderReadyAt] = ReadyAt(now) // the replayed copy is ready now
	headers[HeaderReplayed] = now.UTC().Format(time.RFC3339)
	// An earlier replay's signature does not sign this copy.
	delete(headers, HeaderReplayMAC)
	if mac != nil {
		parking, _ := headers[HeaderParking].(string)
		if m := mac(ReplayMACInput(d.MessageId, headers[HeaderReplayed].(string), parking, d.Body)); m != "" {
			headers[HeaderReplayMAC] = m
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

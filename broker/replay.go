package broker

import (
	"context"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// replayDropped are headers removed from a parked message when it is
// replayed, so that it starts again as a first attempt.
var replayDropped = []string{"parked_", "settlement_attempt", "settlement_last_error", "settlement_poll"}

// Replay moves up to limit messages (all when limit <= 0) from the parked
// queue to the queue named in their parked_from_queue header (or to
// fallback), body and properties intact, with the parking and attempt
// headers removed. Each message is acked in the parked queue only after its
// republication was confirmed, so a crash during a replay duplicates at
// worst (which the worker's idempotency absorbs) and never loses one.
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

func Replay(ctx context.Context, amqpURL string, o ReplayOptions) (ReplayResult, error) {
	n, err := replay(ctx, amqpURL, o.Parked, o.Fallback, o.Limit)
	return ReplayResult{Moved: n}, err
}

func replay(ctx context.Context, amqpURL, parked, fallback string, limit int) (int, error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", Redact(amqpURL), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	n := 0
	for limit <= 0 || n < limit {
		d, ok, err := ch.Get(parked, false)
		if err != nil {
			return n, fmt.Errorf("get from %s: %w", parked, err)
		}
		if !ok {
			break
		}
		target := fallback
		if v, ok := d.Headers["parked_from_queue"].(string); ok && v != "" {
			target = v
		}
		headers := amqp.Table{}
		for k, v := range d.Headers {
			if !dropOnReplay(k) && !isBrokerOwned(k) {
				headers[k] = v
			}
		}
		pub := amqp.Publishing{
			Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
			DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
			ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type,
			UserId: d.UserId, AppId: d.AppId, Body: d.Body,
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", target, true, false, pub)
		if err != nil {
			_ = d.Nack(false, true)
			return n, fmt.Errorf("republish to %s: %w", target, err)
		}
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			_ = d.Nack(false, true)
			return n, fmt.Errorf("republish to %s not confirmed: %v", target, err)
		}
		if err := d.Ack(false); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func dropOnReplay(k string) bool {
	for _, p := range replayDropped {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

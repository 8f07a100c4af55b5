package broker

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// receivedAtKey keys, in a message's context, when its delivery reached
// the consumer.
type receivedAtKey struct{}

// withReceivedAt notes in ctx that the message was delivered at at.
func withReceivedAt(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, receivedAtKey{}, at)
}

// ReceivedAt returns when msg's delivery reached its consumer, unacked
// since (KeyedSubscriber notes it; false for a message without the note).
// The broker's consumer_timeout counts from then, also while the message
// waits behind an earlier one of its key.
func ReceivedAt(msg *message.Message) (time.Time, bool) {
	at, ok := msg.Context().Value(receivedAtKey{}).(time.Time)
	return at, ok && !at.IsZero()
}

package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
)

// panMessageID is a request's message_id holding a card number: the
// intake sets a request's message_id to its requestId, which a sender may
// have filled with one by mistake. panMasked is how errors show it.
const (
	panMessageID = "REQ-4012888888881881"
	panMasked    = "REQ-************1881"
)

// wantMasked fails unless err names the message id masked.
func wantMasked(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || strings.Contains(err.Error(), "4012888888") || !strings.Contains(err.Error(), panMasked) {
		t.Errorf("%s: error %v, want one naming the message id masked", what, err)
	}
}

// A failed replay named the parked message's id whole in its error, which
// parked replay prints. It is masked there.
func TestReplayErrorMasksACardNumberInTheMessageID(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	parked, target := "replay.pan.parked", "replay.pan.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	park(t, u, parked, panMessageID, "q.does-not-exist", "r")
	_, err := broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target})
	wantMasked(t, "unroutable replay", err)
}

// A publish refused before it is sent (a header frame above the frame
// size, a property above 255 bytes) named the message whole in its error,
// which the worker logs and puts in the parked reason of a retry copy it
// could not send. It is masked there.
func TestPublishRefusalMasksACardNumberInTheMessageID(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.pan", broker.QueueQuorum, nil)
	pub := newPublisher(t, u, 1)
	ctx := testCtx(t, 30*time.Second)
	large := message.NewMessage(panMessageID, []byte("x"))
	large.Metadata.Set("pad", strings.Repeat("a", broker.DefaultFrameMax))
	wantMasked(t, "headers above the frame size", pub.Publish(ctx, "", "q.pan", large))
	long := message.NewMessage(panMessageID, []byte("x"))
	long.Metadata.Set(broker.MetaCorrelationID, strings.Repeat("c", broker.MaxShortString+1))
	wantMasked(t, "a property above 255 bytes", pub.Publish(ctx, "", "q.pan", long))
}

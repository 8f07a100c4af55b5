package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
)

// A message whose properties and headers did not fit one frame was sent:
// the broker answered with 501 FRAME_ERROR, closing the publisher's whole
// connection and every publish in flight on it, and the publish, retried
// as a lost connection, closed it twice more before failing as if the
// broker were unreachable. It is refused before it is sent now
// (HeadersTooLargeError, ErrUnsendable), on a connection that goes on;
// one that fits to the byte is sent.
func TestPublisherRefusesHeadersAboveOneFrame(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.frame", broker.QueueQuorum, nil)
	pub := newPublisher(t, u, 2)
	ctx := testCtx(t, 30*time.Second)
	conn, err := pub.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	max := broker.DefaultFrameMax - 8
	sized := func(extra int) *message.Message {
		m := message.NewMessage("m-frame", []byte("x"))
		m.Metadata.Set("pad", "")
		p, _ := broker.Marshaler{}.Marshal(m)
		m.Metadata.Set("pad", strings.Repeat("a", max-broker.HeaderFrameBytes(p)+extra))
		return m
	}
	if err := pub.Publish(ctx, "", "q.frame", sized(0)); err != nil {
		t.Fatalf("a message whose header frame is exactly the frame size: %v", err)
	}
	for _, extra := range []int{1, 100} {
		err = pub.Publish(ctx, "", "q.frame", sized(extra))
		var tooLarge *broker.HeadersTooLargeError
		if !errors.As(err, &tooLarge) || !errors.Is(err, broker.ErrUnsendable) || !broker.IsMessageRefused(err) {
			t.Fatalf("%d bytes more: %v, want a HeadersTooLargeError (ErrUnsendable)", extra, err)
		}
		if tooLarge.Bytes != max+extra || tooLarge.Max != max {
			t.Errorf("HeadersTooLargeError %+v, want %d above %d", tooLarge, max+extra, max)
		}
	}
	if again, err := pub.Conn(ctx); err != nil || again != conn {
		t.Errorf("the connection was lost: %v", err)
	}
	if n := queueDepth(t, ch, "q.frame"); n != 1 {
		t.Errorf("%d messages in the queue, want 1", n)
	}
}

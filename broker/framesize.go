package broker

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultFrameMax is RabbitMQ's default frame_max, the frame size a
// connection uses when the broker's is not known.
const DefaultFrameMax = 131072

// frameOverhead is the bytes of a frame around its payload (type, channel,
// size, frame end).
const frameOverhead = 8

// HeadersTooLargeError is the publisher's refusal of a message whose
// properties and headers do not fit one frame: AMQP carries them in a
// single header frame, and the broker answers a larger one by closing the
// whole connection (501 FRAME_ERROR), with every publish in flight on it.
// It is ErrUnsendable.
type HeadersTooLargeError struct {
	// Bytes is the header frame's payload; Max the most the connection's
	// frame size allows.
	Bytes, Max int
}

func (e *HeadersTooLargeError) Error() string {
	return fmt.Sprintf("its properties and headers take %d bytes, above the %d one frame of the broker holds (frame_max)", e.Bytes, e.Max)
}

// Unwrap makes it ErrUnsendable.
func (e *HeadersTooLargeError) Unwrap() error { return ErrUnsendable }

// HeaderFrameBytes is the size of the payload of the header frame that
// carries p's properties and headers (at least that: a header value of a
// type the worker never publishes is counted as its text, plus a margin).
func HeaderFrameBytes(p amqp.Publishing) int {
	n := 2 + 2 + 8 + 2 // class, weight, body size, property flags
	short := func(s string) {
		if s != "" {
			n += 1 + len(s)
		}
	}
	short(p.ContentType)
	short(p.ContentEncoding)
	if len(p.Headers) > 0 {
		n += 4 + tableBytes(p.Headers)
	}
	if p.DeliveryMode != 0 {
		n++
	}
	if p.Priority != 0 {
		n++
	}
	short(p.CorrelationId)
	short(p.ReplyTo)
	short(p.Expiration)
	short(p.MessageId)
	if !p.Timestamp.IsZero() {
		n += 8
	}
	short(p.Type)
	short(p.UserId)
	short(p.AppId)
	return n
}

func tableBytes(t amqp.Table) int {
	n := 0
	for k, v := range t {
		n += 1 + len(k) + 1 + valueBytes(v)
	}
	return n
}

func valueBytes(v any) int {
	switch x := v.(type) {
	case string:
		return 4 + len(x)
	case []byte:
		return 4 + len(x)
	case amqp.Table:
		return 4 + tableBytes(x)
	case []any:
		n := 4
		for _, e := range x {
			n += 1 + valueBytes(e)
		}
		return n
	case bool, int8, uint8:
		return 1
	case int16, uint16:
		return 2
	case int32, uint32, float32:
		return 4
	case int, int64, uint64, float64, time.Time:
		return 8
	case amqp.Decimal:
		return 5
	case nil:
		return 0
	default:
		return 4 + len(fmt.Sprint(x)) + 16
	}
}

// frameMax is the most payload one frame of conn holds.
func frameMax(conn *amqp.Connection) int {
	max := DefaultFrameMax
	if conn != nil && conn.Config.FrameSize > 0 {
		max = conn.Config.FrameSize
	}
	return max - frameOverhead
}

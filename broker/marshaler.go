package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/shopspring/decimal"
)

// Metadata keys under which Marshaler carries AMQP properties. Every other
// metadata key is an AMQP header.
const (
	MetaContentType   = "amqp_content_type"
	MetaMessageID     = "amqp_message_id"
	MetaCorrelationID = "amqp_correlation_id"
	MetaType          = "amqp_type"
	MetaTimestamp     = "amqp_timestamp"
	MetaAppID         = "amqp_app_id"
	MetaReplyTo       = "amqp_reply_to"
	// Read-only: set on consumed messages, never published.
	MetaRedelivered = "amqp_redelivered"
	MetaRoutingKey  = "amqp_routing_key"
	MetaExchange    = "amqp_exchange"
	// MetaParkingRecorded is set in process on a delivery whose run
	// recorded its settlement's parking (handlers): the router's in-place
	// retry of that run, with the same message and no redelivery, parks
	// its copy again instead of taking itself for a duplicate. Never
	// published, never read from a header.
	MetaParkingRecorded = "amqp_local_parking_recorded"
)

// brokerOwned are headers RabbitMQ writes itself; they are read (stringified)
// but never published again, so a retried or parked copy starts clean.
var brokerOwned = []string{"x-death", "x-delivery-count", "x-first-death-", "x-last-death-", "x-received-from"}

// Marshaler maps AMQP deliveries to Watermill messages and back without ever
// failing on a header type.
//
// watermill-amqp's DefaultMarshaler refuses non-string headers, and a refused
// delivery is nacked and requeued forever; quorum-queue redeliveries
// (x-delivery-count, a number) and dead-lettered messages (x-death, a table)
// would never be processed. This marshaler stringifies every header (numbers
// in decimal, tables and arrays as JSON) and keeps the AMQP properties
// (content type, message id, correlation id, type, timestamp) in metadata, so
// a message can be republished to a retry or parked queue with its body and
// properties intact.
type Marshaler struct{}

// Marshal implements watermill-amqp's Marshaler.
func (Marshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	p := amqp.Publishing{
		Body:         msg.Payload,
		DeliveryMode: amqp.Persistent,
		Headers:      amqp.Table{},
		MessageId:    msg.UUID,
	}
	for k, v := range msg.Metadata {
		switch k {
		case MetaContentType:
			p.ContentType = v
		case MetaMessageID:
			p.MessageId = v
		case MetaCorrelationID:
			p.CorrelationId = v
		case MetaType:
			p.Type = v
		case MetaAppID:
			p.AppId = v
		case MetaReplyTo:
			p.ReplyTo = v
		case MetaTimestamp:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				p.Timestamp = t
			}
		case MetaRedelivered, MetaRoutingKey, MetaExchange, MetaParkingRecorded:
		default:
			// watermill-amqp's own metadata (_watermill_amqp_redelivered)
			// describes this delivery, not the message.
			if !isBrokerOwned(k) && !strings.HasPrefix(k, "_watermill_") {
				p.Headers[k] = v
			}
		}
	}
	return p, nil
}

// deliveryKeys are the metadata keys Unmarshal fills from the delivery's
// properties and envelope (or the pipeline sets in process), never from
// its headers.
var deliveryKeys = map[string]bool{
	MetaContentType: true, MetaMessageID: true, MetaCorrelationID: true, MetaType: true, MetaTimestamp: true,
	MetaAppID: true, MetaReplyTo: true, MetaRedelivered: true, MetaRoutingKey: true, MetaExchange: true,
	MetaParkingRecorded: true,
}

// ErrNoDelivery is Unmarshal's answer to the zero delivery a closed
// delivery channel yields.
var ErrNoDelivery = errors.New("no delivery: the consumer was cancelled by the broker or its channel closed")

// Unmarshal implements watermill-amqp's Marshaler. It returns an error only
// for the zero delivery, which no broker sends (a delivery always has its
// channel to ack on): watermill-amqp reads the delivery channel the client
// closes when the broker cancels the consumer (its queue deleted, its node
// gone) without checking it is open, and would hand the zero value out as
// an empty message with a made-up id; refused, watermill-amqp's nack of it
// fails and it consumes again on a new channel.
func (Marshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	if d.Acknowledger == nil && reflect.ValueOf(d).IsZero() {
		return nil, ErrNoDelivery
	}
	id := d.MessageId
	if id == "" {
		if v, ok := d.Headers["_watermill_message_uuid"].(string); ok {
			id = v
		} else {
			id = watermill.NewUUID()
		}
	}
	msg := message.NewMessage(id, d.Body)
	for k, v := range d.Headers {
		if strings.HasPrefix(k, "_watermill_") || deliveryKeys[k] {
			// A header spelled like a property's key is not that
			// property: taken for it, it became one on every copy the
			// worker republishes (a 300-byte amqp_type made each retry
			// and park copy unsendable).
			continue
		}
		msg.Metadata.Set(k, Stringify(v))
	}
	set := func(k, v string) {
		if v != "" {
			msg.Metadata.Set(k, v)
		}
	}
	set(MetaContentType, d.ContentType)
	set(MetaMessageID, d.MessageId)
	set(MetaCorrelationID, d.CorrelationId)
	set(MetaType, d.Type)
	set(MetaAppID, d.AppId)
	set(MetaReplyTo, d.ReplyTo)
	set(MetaRoutingKey, d.RoutingKey)
	set(MetaExchange, d.Exchange)
	if !d.Timestamp.IsZero() {
		msg.Metadata.Set(MetaTimestamp, d.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if d.Redelivered {
		msg.Metadata.Set(MetaRedelivered, "true")
	}
	return msg, nil
}

// Stringify renders any AMQP field value as a string.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case float32, float64:
		return fmt.Sprint(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case amqp.Decimal:
		// A plain decimal with its scale ("120.00"), as amounts are
		// written everywhere else: exponent forms are not amounts.
		return decimal.New(int64(x.Value), -int32(x.Scale)).StringFixed(int32(x.Scale))
	default:
		b, err := json.Marshal(jsonable(x))
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func jsonable(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = jsonable(e)
		}
		return s
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return x
	}
}

func isBrokerOwned(k string) bool {
	for _, p := range brokerOwned {
		if k == p || strings.HasSuffix(p, "-") && strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

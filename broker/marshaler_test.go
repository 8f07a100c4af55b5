package broker_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/broker"
)

// sentTimestamp is the AMQP timestamp (second precision) of sentPublishing.
var sentTimestamp = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// sentPublishing carries every property and a few typed headers.
func sentPublishing(body string) amqp.Publishing {
	return amqp.Publishing{
		ContentType:   "application/xml",
		MessageId:     "msg-0001",
		CorrelationId: "corr-0001",
		Type:          "PaymentSettlementRequest",
		Timestamp:     sentTimestamp,
		AppId:         "order-system",
		ReplyTo:       "replies",
		DeliveryMode:  amqp.Persistent,
		Headers: amqp.Table{
			"store_id":    "S1",
			"tender_type": "VC",
			"n":           int32(7),
			"flag":        true,
		},
		Body: []byte(body),
	}
}

// TestMarshalerBrokerHeaders consumes, through the production subscriber,
// deliveries that carry the header types watermill-amqp's DefaultMarshaler
// refuses (x-death tables, x-delivery-count numbers): each must arrive once,
// stringified, and be acked for good.
func TestMarshalerBrokerHeaders(t *testing.T) {
	cases := []struct {
		name string
		// setup leaves one message, published with sentPublishing(body), in
		// the returned queue.
		setup func(t *testing.T, u string, ch *amqp.Channel, body string) string
		check func(t *testing.T, m *message.Message)
	}{
		{
			name: "dead-lettered by message TTL (classic)",
			setup: func(t *testing.T, u string, ch *amqp.Channel, body string) string {
				return deadLetterSetup(t, u, ch, body, broker.QueueClassic)
			},
			check: checkXDeath,
		},
		{
			name: "dead-lettered by message TTL (quorum, at-least-once)",
			setup: func(t *testing.T, u string, ch *amqp.Channel, body string) string {
				return deadLetterSetup(t, u, ch, body, broker.QueueQuorum)
			},
			check: checkXDeath,
		},
		{
			name: "redelivered by a quorum queue after nack with requeue",
			setup: func(t *testing.T, u string, ch *amqp.Channel, body string) string {
				declare(t, ch, "q.redelivered", broker.QueueQuorum, nil)
				publishRaw(t, u, "", "q.redelivered", sentPublishing(body))
				d, ok := getOne(t, ch, "q.redelivered", 5*time.Second)
				if !ok {
					t.Fatal("setup: message did not arrive")
				}
				if err := d.Nack(false, true); err != nil {
					t.Fatal(err)
				}
				return "q.redelivered"
			},
			check: func(t *testing.T, m *message.Message) {
				if got := m.Metadata.Get("x-delivery-count"); got != "1" {
					t.Errorf("x-delivery-count = %q, want \"1\" (a decimal string)", got)
				}
				if got := m.Metadata.Get(broker.MetaRedelivered); got != "true" {
					t.Errorf("%s = %q, want true", broker.MetaRedelivered, got)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := amqpURL(t)
			_, ch := dial(t, u)
			body := "<PaymentSettlementRequest>" + tc.name + "</PaymentSettlementRequest>"
			queue := tc.setup(t, u, ch, body)

			sub := newSubscriber(t, u, 1)
			msgs, err := sub.Subscribe(testCtx(t, 30*time.Second), queue)
			if err != nil {
				t.Fatalf("Subscribe(%s): %v", queue, err)
			}
			m := receive(t, msgs, 10*time.Second)
			if string(m.Payload) != body {
				t.Fatalf("payload = %q, want %q", m.Payload, body)
			}
			if m.UUID != "msg-0001" {
				t.Errorf("UUID = %q, want the AMQP message id msg-0001", m.UUID)
			}
			tc.check(t, m)
			checkProperties(t, m)

			pub, err := broker.Marshaler{}.Marshal(m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			checkRepublished(t, pub, body)

			m.Ack()
			// Not looping: the ack sticks and nothing comes back.
			noMessage(t, msgs, 300*time.Millisecond)
			if err := sub.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			assertEmpty(t, u, queue, 100*time.Millisecond)
		})
	}
}

func deadLetterSetup(t *testing.T, u string, ch *amqp.Channel, body, qtype string) string {
	t.Helper()
	declare(t, ch, "q.target", qtype, nil)
	args := amqp.Table{
		"x-message-ttl":             int64(50),
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": "q.target",
	}
	if qtype == broker.QueueQuorum {
		args["x-dead-letter-strategy"] = "at-least-once"
		args["x-overflow"] = "reject-publish"
	}
	declare(t, ch, "q.ttl", qtype, args)
	publishRaw(t, u, "", "q.ttl", sentPublishing(body))
	return "q.target"
}

func checkXDeath(t *testing.T, m *message.Message) {
	t.Helper()
	raw := m.Metadata.Get("x-death")
	if raw == "" {
		t.Fatalf("no x-death in metadata %v", m.Metadata)
	}
	var deaths []map[string]any
	if err := json.Unmarshal([]byte(raw), &deaths); err != nil {
		t.Fatalf("x-death %q is not a JSON array of objects: %v", raw, err)
	}
	if len(deaths) != 1 {
		t.Fatalf("x-death = %s, want one entry", raw)
	}
	d := deaths[0]
	if d["queue"] != "q.ttl" || d["reason"] != "expired" {
		t.Errorf("x-death entry = %v, want queue q.ttl, reason expired", d)
	}
	if c, ok := d["count"].(float64); !ok || c != 1 {
		t.Errorf("x-death count = %v, want the number 1", d["count"])
	}
	if rk, ok := d["routing-keys"].([]any); !ok || len(rk) != 1 || rk[0] != "q.ttl" {
		t.Errorf("x-death routing-keys = %v, want [q.ttl]", d["routing-keys"])
	}
	if ts, ok := d["time"].(string); !ok {
		t.Errorf("x-death time = %v, want an RFC 3339 string", d["time"])
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("x-death time %q: %v", ts, err)
	}
	if got := m.Metadata.Get("x-first-death-reason"); got != "expired" {
		t.Errorf("x-first-death-reason = %q, want expired", got)
	}
}

// checkProperties checks that the AMQP properties are in the metadata.
func checkProperties(t *testing.T, m *message.Message) {
	t.Helper()
	want := map[string]string{
		broker.MetaContentType:   "application/xml",
		broker.MetaMessageID:     "msg-0001",
		broker.MetaCorrelationID: "corr-0001",
		broker.MetaType:          "PaymentSettlementRequest",
		broker.MetaAppID:         "order-system",
		broker.MetaReplyTo:       "replies",
		broker.MetaTimestamp:     sentTimestamp.Format(time.RFC3339Nano),
		"store_id":               "S1",
		"tender_type":            "VC",
		"n":                      "7",
		"flag":                   "true",
	}
	for k, v := range want {
		if got := m.Metadata.Get(k); got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
}

// checkRepublished checks what Marshal would publish for a consumed message.
func checkRepublished(t *testing.T, p amqp.Publishing, body string) {
	t.Helper()
	if string(p.Body) != body {
		t.Errorf("body = %q, want %q", p.Body, body)
	}
	if p.ContentType != "application/xml" || p.MessageId != "msg-0001" || p.CorrelationId != "corr-0001" ||
		p.Type != "PaymentSettlementRequest" || p.AppId != "order-system" || p.ReplyTo != "replies" {
		t.Errorf("properties not preserved: content type %q, message id %q, correlation id %q, type %q, app id %q, reply to %q",
			p.ContentType, p.MessageId, p.CorrelationId, p.Type, p.AppId, p.ReplyTo)
	}
	if !p.Timestamp.Equal(sentTimestamp) {
		t.Errorf("timestamp = %v, want %v", p.Timestamp, sentTimestamp)
	}
	if p.DeliveryMode != amqp.Persistent {
		t.Errorf("delivery mode = %d, want persistent", p.DeliveryMode)
	}
	for k, v := range map[string]string{"store_id": "S1", "tender_type": "VC", "n": "7", "flag": "true"} {
		if p.Headers[k] != v {
			t.Errorf("header %s = %#v, want %q", k, p.Headers[k], v)
		}
	}
	for k := range p.Headers {
		if k == "x-death" || k == "x-delivery-count" || k == "x-received-from" ||
			strings.HasPrefix(k, "x-first-death-") || strings.HasPrefix(k, "x-last-death-") {
			t.Errorf("broker-owned header %s republished", k)
		}
		if strings.HasPrefix(k, "amqp_") {
			t.Errorf("property metadata %s republished as a header", k)
		}
	}
}

// TestMarshalerDoesNotRepublishDeliveryState: the redelivered flag of a
// consumed message describes that delivery only. Marshal drops the
// marshaler's own copy (amqp_redelivered) but must also drop the one
// watermill-amqp's subscriber adds (_watermill_amqp_redelivered), or a
// retried or parked copy is published with a header claiming it was
// redelivered, and the next consumer of that copy sees it as redelivered.
func TestMarshalerDoesNotRepublishDeliveryState(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.redelivered", broker.QueueQuorum, nil)
	declare(t, ch, "q.copy", broker.QueueClassic, nil)
	publishRaw(t, u, "", "q.redelivered", sentPublishing("body"))
	d, ok := getOne(t, ch, "q.redelivered", 5*time.Second)
	if !ok {
		t.Fatal("setup: message did not arrive")
	}
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}

	sub := newSubscriber(t, u, 1)
	msgs, err := sub.Subscribe(testCtx(t, 30*time.Second), "q.redelivered")
	if err != nil {
		t.Fatal(err)
	}
	m := receive(t, msgs, 10*time.Second)
	defer m.Ack()

	// Republish it as the handlers do (copy + Publisher) and look at the copy.
	pub := newPublisher(t, u, 1)
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.copy", m.Copy()); err != nil {
		t.Fatalf("Publish copy: %v", err)
	}
	c, ok := getOne(t, ch, "q.copy", 5*time.Second)
	if !ok {
		t.Fatal("copy did not arrive")
	}
	for k, v := range c.Headers {
		if k == "x-delivery-count" || strings.Contains(k, "redelivered") {
			t.Errorf("republished copy carries delivery state header %s=%v (all headers: %v)", k, v, c.Headers)
		}
	}
	if c.MessageId != "msg-0001" || c.ContentType != "application/xml" || c.CorrelationId != "corr-0001" ||
		c.Type != "PaymentSettlementRequest" || !c.Timestamp.Equal(sentTimestamp) {
		t.Errorf("copy lost properties: %+v", c)
	}
}

// TestMarshalerUnmarshalWithoutProperties: a bare delivery gets a generated
// UUID (or watermill's own header), no empty property metadata, and never an
// error.
func TestMarshalerUnmarshalWithoutProperties(t *testing.T) {
	cases := []struct {
		name     string
		d        amqp.Delivery
		wantUUID string
	}{
		{"no message id", amqp.Delivery{Body: []byte("x")}, ""},
		{"watermill uuid header", amqp.Delivery{Body: []byte("x"), Headers: amqp.Table{"_watermill_message_uuid": "wm-1"}}, "wm-1"},
		{"message id wins over watermill header", amqp.Delivery{MessageId: "m-1", Body: []byte("x"), Headers: amqp.Table{"_watermill_message_uuid": "wm-1"}}, "m-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := broker.Marshaler{}.Unmarshal(tc.d)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if tc.wantUUID != "" && m.UUID != tc.wantUUID {
				t.Errorf("UUID = %q, want %q", m.UUID, tc.wantUUID)
			}
			if m.UUID == "" {
				t.Error("empty UUID")
			}
			for _, k := range []string{broker.MetaContentType, broker.MetaMessageID, broker.MetaCorrelationID, broker.MetaType,
				broker.MetaTimestamp, broker.MetaRedelivered, "_watermill_message_uuid"} {
				if _, ok := m.Metadata[k]; ok && (k != broker.MetaMessageID || tc.d.MessageId == "") {
					t.Errorf("unexpected metadata %s=%q", k, m.Metadata[k])
				}
			}
			p, err := broker.Marshaler{}.Marshal(m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if p.MessageId != m.UUID {
				t.Errorf("Marshal message id = %q, want the UUID %q", p.MessageId, m.UUID)
			}
			if !p.Timestamp.IsZero() {
				t.Errorf("timestamp = %v, want none", p.Timestamp)
			}
		})
	}
}

func TestMarshalerMarshalDropsBrokerOwnedHeaders(t *testing.T) {
	m := message.NewMessage("uuid-1", []byte("b"))
	for k, v := range map[string]string{
		"x-death": `[{"count":1}]`, "x-delivery-count": "3", "x-first-death-queue": "q", "x-first-death-reason": "expired",
		"x-first-death-exchange": "", "x-last-death-queue": "q", "x-last-death-reason": "rejected", "x-received-from": "[]",
		broker.MetaRedelivered: "true", broker.MetaRoutingKey: "rk", broker.MetaExchange: "ex",
		"x-deathly": "kept", "store_id": "S1", "x-first-deathless": "kept",
	} {
		m.Metadata.Set(k, v)
	}
	p, err := broker.Marshaler{}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := amqp.Table{"x-deathly": "kept", "store_id": "S1", "x-first-deathless": "kept"}
	if len(p.Headers) != len(want) {
		t.Errorf("headers = %v, want %v", p.Headers, want)
	}
	for k, v := range want {
		if p.Headers[k] != v {
			t.Errorf("header %s = %#v, want %q", k, p.Headers[k], v)
		}
	}
	if p.MessageId != "uuid-1" {
		t.Errorf("message id = %q, want the UUID", p.MessageId)
	}
	// An unparseable timestamp is dropped, not an error.
	m.Metadata.Set(broker.MetaTimestamp, "yesterday")
	if p, err := (broker.Marshaler{}).Marshal(m); err != nil || !p.Timestamp.IsZero() {
		t.Errorf("bad timestamp: Marshal = %v, %v; want zero timestamp, nil", p.Timestamp, err)
	}
}

func TestStringify(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.FixedZone("CET", 3600))
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"nil (void)", nil, ""},
		{"string", "abc", "abc"},
		{"bytes", []byte("raw"), "raw"},
		{"bool true", true, "true"},
		{"bool false", false, "false"},
		{"int8", int8(-8), "-8"},
		{"uint8", uint8(200), "200"},
		{"int16", int16(-1600), "-1600"},
		{"uint16", uint16(65535), "65535"},
		{"int32", int32(-2147483648), "-2147483648"},
		{"uint32", uint32(4294967295), "4294967295"},
		{"int64", int64(math.MaxInt64), "9223372036854775807"},
		{"uint64", uint64(math.MaxUint64), "18446744073709551615"},
		{"int", 42, "42"},
		{"float32", float32(1.5), "1.5"},
		{"float64", 2.25, "2.25"},
		{"time in UTC", ts, "2025-03-04T04:06:07.89Z"},
		{"table", amqp.Table{"b": int32(2), "a": "x", "t": amqp.Table{"n": true}},
			`{"a":"x","b":2,"t":{"n":true}}`},
		{"array", []any{"a", int64(1), false, []byte("y"), nil}, `["a",1,false,"y",null]`},
		{"x-death shaped", []any{amqp.Table{
			"count": int64(2), "reason": "expired", "queue": "q", "exchange": "",
			"routing-keys": []any{"q"}, "time": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		}}, `[{"count":2,"exchange":"","queue":"q","reason":"expired","routing-keys":["q"],"time":"2025-01-02T03:04:05Z"}]`},
		{"empty table", amqp.Table{}, `{}`},
		{"empty array", []any{}, `[]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := broker.Stringify(tc.in); got != tc.want {
				t.Errorf("Stringify(%#v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestStringifyDecimal: an AMQP decimal renders as a plain decimal with its
// scale, which parses back to the exact same decimal.
func TestStringifyDecimal(t *testing.T) {
	cases := []struct {
		in   amqp.Decimal
		want string
	}{
		{amqp.Decimal{Scale: 2, Value: 12345}, "123.45"},
		{amqp.Decimal{Scale: 0, Value: 7}, "7"},
		{amqp.Decimal{Scale: 3, Value: -5}, "-0.005"},
	}
	for _, tc := range cases {
		got := broker.Stringify(tc.in)
		if got != tc.want {
			// Written as an amount is everywhere else: the worker's
			// amount parser refuses exponent forms ("12345e-2").
			t.Errorf("Stringify(%+v) = %q, want %q", tc.in, got, tc.want)
		}
		d, err := decimal.NewFromString(got)
		if err != nil {
			t.Errorf("Stringify(%+v) = %q: not a decimal: %v", tc.in, got, err)
			continue
		}
		if !d.Equal(decimal.RequireFromString(tc.want)) {
			t.Errorf("Stringify(%+v) = %q = %s, want %s", tc.in, got, d, tc.want)
		}
	}
}

// TestStringifyFromTheWire runs every AMQP field type through a real
// broker, so that the types Stringify sees are the ones amqp091 decodes.
func TestStringifyFromTheWire(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.types", broker.QueueClassic, nil)
	ts := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	headers := amqp.Table{
		"s": "str", "b": true, "i8": int8(-8), "u8": uint8(8), "i16": int16(-16), "u16": uint16(16),
		"i32": int32(-32), "u32": uint32(32), "i64": int64(-64), "f32": float32(0.5), "f64": 0.25,
		"ts": ts, "bytes": []byte("xyz"), "dec": amqp.Decimal{Scale: 2, Value: 150},
		"tbl": amqp.Table{"k": "v", "n": int32(1)}, "arr": []any{"a", int32(2)}, "void": nil,
	}
	publishRaw(t, u, "", "q.types", amqp.Publishing{Headers: headers, Body: []byte("x")})
	sub := newSubscriber(t, u, 1)
	msgs, err := sub.Subscribe(testCtx(t, 30*time.Second), "q.types")
	if err != nil {
		t.Fatal(err)
	}
	m := receive(t, msgs, 10*time.Second)
	m.Ack()
	want := map[string]string{
		"s": "str", "b": "true", "i8": "-8", "u8": "8", "i16": "-16", "u16": "16", "i32": "-32", "u32": "32",
		"i64": "-64", "f32": "0.5", "f64": "0.25", "ts": "2025-03-04T05:06:07Z", "bytes": "xyz",
		"tbl": `{"k":"v","n":1}`, "arr": `["a",2]`, "void": "",
	}
	for k, v := range want {
		if got, ok := m.Metadata[k]; !ok || got != v {
			t.Errorf("header %s: metadata = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if d, err := decimal.NewFromString(m.Metadata.Get("dec")); err != nil || !d.Equal(decimal.RequireFromString("1.50")) {
		t.Errorf("header dec: metadata = %q, want a decimal equal to 1.50", m.Metadata.Get("dec"))
	}
}

// A header spelled like one of the marshaler's property keys
// (amqp_type, amqp_content_type, ...) is not a property: read as one, it
// became one on every copy the worker republishes (retry, park, sweep),
// and a value above AMQP's 255-byte short string made each such copy
// unsendable, so a request that needed a retry or a park could get
// neither. The header is not taken for the property.
func TestMarshalerHeaderSpelledLikeAPropertyIsNotOne(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, k := range []string{broker.MetaContentType, broker.MetaMessageID, broker.MetaCorrelationID, broker.MetaType,
		broker.MetaAppID, broker.MetaReplyTo, broker.MetaTimestamp} {
		t.Run(k, func(t *testing.T) {
			d := amqp.Delivery{MessageId: "m-1", ContentType: "application/xml", Body: []byte("x"), Headers: amqp.Table{k: long}}
			m, err := broker.Marshaler{}.Unmarshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if m.Metadata.Get(k) == long {
				t.Errorf("the header %s was read as the property", k)
			}
			p, err := broker.Marshaler{}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range map[string]string{"content type": p.ContentType, "message id": p.MessageId, "correlation id": p.CorrelationId,
				"type": p.Type, "app id": p.AppId, "reply to": p.ReplyTo} {
				if len(v) > broker.MaxShortString {
					t.Errorf("republished %s is %d bytes, above AMQP's short string", name, len(v))
				}
			}
			if p.ContentType != "application/xml" || p.MessageId != "m-1" {
				t.Errorf("properties changed: content type %q, message id %q", p.ContentType, p.MessageId)
			}
		})
	}
}

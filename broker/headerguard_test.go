package broker_test

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func nested(levels int) amqp.Table {
	t := amqp.Table{"leaf": "x"}
	for range levels {
		t = amqp.Table{"n": t}
	}
	return t
}

func manyKeys(n int) amqp.Table {
	t := amqp.Table{}
	for i := range n {
		t[fmt.Sprint("k", i)] = int32(i)
	}
	return t
}

// The AMQP client (amqp091-go) closes its whole connection on a message
// whose header table nests deeper than 32 levels or holds more than 8192
// entries in one table or array; the broker takes such a message from any
// publisher. Through broker.Guard each is read, with its unreadable headers
// named in settlement_unreadable_headers and holding a note; every other
// header, and every message the client can read, is delivered as it is
// (real broker).
func TestGuardDeliversMessagesWithHeadersTheClientCannotRead(t *testing.T) {
	u := testenv.AMQPURL(t)
	pubConn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer pubConn.Close()
	pch, err := pubConn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := pch.QueueDeclare("guard", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	publish := func(p amqp.Publishing) {
		t.Helper()
		dc, err := pch.PublishWithDeferredConfirm("", q.Name, false, false, p)
		if err != nil || !dc.Wait() {
			t.Fatalf("publish: %v", err)
		}
	}
	plainConn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer plainConn.Close()
	plain, _ := plainConn.Channel()
	guarded, err := broker.DialGuarded(u, broker.DialConfig("guard test"))
	if err != nil {
		t.Fatal(err)
	}
	defer guarded.Close()
	gch, err := guarded.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		headers amqp.Table
		bad     map[string]string // header → why, when the client cannot read it
	}{
		{"plain", amqp.Table{"store_id": "S1", "n": int32(7), "b": []byte{0xff}, "t": true, "d": amqp.Decimal{Scale: 2, Value: 1234}}, nil},
		{"32 levels", amqp.Table{"store_id": "S1", "deep": nested(31)}, nil},
		{"8192 elements", amqp.Table{"store_id": "S1", "a": make([]any, 8192), "m": manyKeys(8192)}, nil},
		{"33 levels", amqp.Table{"store_id": "S1", "deep": nested(32)}, map[string]string{"deep": "nested deeper than 32 levels"}},
		{"deep in an array", amqp.Table{"store_id": "S1", "a": []any{"x", nested(40)}}, map[string]string{"a": "nested deeper than 32 levels"}},
		{"8193 elements", amqp.Table{"store_id": "S1", "a": make([]any, 8193), "ok": "y"}, map[string]string{"a": "an array of more than 8192 elements"}},
		{"8193 entries", amqp.Table{"store_id": "S1", "m": manyKeys(8193)}, map[string]string{"m": "a table of more than 8192 entries"}},
		{"both", amqp.Table{"store_id": "S1", "m": manyKeys(9000), "deep": nested(50)},
			map[string]string{"m": "a table of more than 8192 entries", "deep": "nested deeper than 32 levels"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			publish(amqp.Publishing{Headers: tc.headers, Body: []byte(tc.name)})
			d, ok, err := gch.Get(q.Name, true)
			if err != nil || !ok {
				t.Fatalf("guarded get: %v %v", ok, err)
			}
			if string(d.Body) != tc.name {
				t.Fatalf("body %q, want %q", d.Body, tc.name)
			}
			if tc.bad == nil {
				// What the client reads without the guard.
				publish(amqp.Publishing{Headers: tc.headers, Body: []byte(tc.name)})
				want, ok, err := plain.Get(q.Name, true)
				if err != nil || !ok {
					t.Fatalf("plain get: %v %v", ok, err)
				}
				if !reflect.DeepEqual(d.Headers, want.Headers) {
					t.Errorf("headers through the guard differ from the client's own reading")
				}
				return
			}
			// Without the guard the client cannot read it: its connection ends.
			publish(amqp.Publishing{Headers: tc.headers, Body: []byte(tc.name)})
			bare, err := amqp.Dial(u)
			if err != nil {
				t.Fatal(err)
			}
			defer bare.Close()
			bch, _ := bare.Channel()
			if _, _, err := bch.Get(q.Name, true); err == nil {
				t.Fatalf("the client read it without the guard: the guard must not rewrite it")
			}
			named, _ := d.Headers[broker.HeaderUnreadable].(string)
			for k, why := range tc.bad {
				if !strings.Contains(named, fmt.Sprintf("%q (%s)", k, why)) {
					t.Errorf("%s = %q, want it to name %q (%s)", broker.HeaderUnreadable, named, k, why)
				}
				if v, _ := d.Headers[k].(string); !strings.Contains(v, why) {
					t.Errorf("header %q = %v, want a note saying %s", k, d.Headers[k], why)
				}
			}
			if d.Headers["store_id"] != "S1" {
				t.Errorf("store_id %v, want it kept", d.Headers["store_id"])
			}
		})
	}
}

// Over amqps the guard reads the broker's frames after decryption: the TLS
// handshake moves into the dial, with AMQP_TLS_*'s configuration.
func TestGuardOverAMQPS(t *testing.T) {
	p := newPKI(t)
	raw := testenv.AMQPURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	front := tlsFront(t, p, u.Host)
	_, port, _ := net.SplitHostPort(front)
	u.Scheme, u.Host = "amqps", "localhost:"+port
	c, err := broker.TLSFiles{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}.Load()
	if err != nil {
		t.Fatal(err)
	}
	broker.UseTLS(c)
	t.Cleanup(func() { broker.UseTLS(nil) })

	pubConn, err := amqp.Dial(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pubConn.Close()
	pch, _ := pubConn.Channel()
	q, err := pch.QueueDeclare("guard-tls", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	if dc, err := pch.PublishWithDeferredConfirm("", q.Name, false, false, amqp.Publishing{Headers: amqp.Table{"deep": nested(40)}, Body: []byte("x")}); err != nil || !dc.Wait() {
		t.Fatalf("publish: %v", err)
	}
	conn, err := broker.DialGuarded(u.String(), broker.DialConfig("guard tls test"))
	if err != nil {
		t.Fatalf("amqps through the guard: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	d, ok, err := ch.Get(q.Name, true)
	if err != nil || !ok {
		t.Fatalf("get over amqps: %v %v", ok, err)
	}
	if named, _ := d.Headers[broker.HeaderUnreadable].(string); !strings.Contains(named, `"deep"`) {
		t.Errorf("%s = %q", broker.HeaderUnreadable, named)
	}
}

package broker_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
)

const prov = "radial"

func fullTopology(qtype string) broker.Topology {
	return broker.Topology{
		Providers:     []string{prov},
		QueueType:     qtype,
		RetryDelays:   []time.Duration{200 * time.Millisecond, time.Second},
		DeliveryLimit: 3,
		StatusQueues: []broker.StatusQueue{
			{Name: broker.StatusQueueName("guest"), BindingKey: "settlement.status.#"},
		},
		ParkProviderStatuses: []string{prov},
	}
}

// declareOn declares t on a fresh channel of u.
func declareOn(t *testing.T, u string, top broker.Topology) {
	t.Helper()
	conn, _ := dial(t, u)
	if err := top.Declare(conn); err != nil {
		t.Fatalf("Declare: %v", err)
	}
}

type mgmtQueue struct {
	Type      string         `json:"type"`
	Durable   bool           `json:"durable"`
	Arguments map[string]any `json:"arguments"`
}

func queueInfo(t *testing.T, u, name string) mgmtQueue {
	t.Helper()
	var q mgmtQueue
	path := "/api/queues/" + url.PathEscape(vhostOf(t, u)) + "/" + url.PathEscape(name)
	if code := mgmtDo(t, http.MethodGet, path, &q); code != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d (queue not declared?)", path, code)
	}
	return q
}

func TestTopologyNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{broker.RequestRoutingKey("radial"), "settlement.request.radial"},
		{broker.RequestQueue("radial"), "q.Payments.Settlements.Request.radial"},
		{broker.RetryQueue("radial", 200*time.Millisecond), "q.Payments.Settlements.Request.radial.retry.200ms"},
		{broker.RetryQueue("radial", 2*time.Minute), "q.Payments.Settlements.Request.radial.retry.2m0s"},
		{broker.ParkedQueue("radial"), "q.Payments.Settlements.Request.radial.parked"},
		{broker.ProviderStatusParkedQueue("radial"), "q.Payments.Settlements.ProviderStatus.radial.parked"},
		{broker.StatusRoutingKey("ABCXYZ"), "settlement.status.ABCXYZ"},
		{broker.StatusRoutingKey("a.b#c*d"), "settlement.status.a_b_c_d"},
		{broker.StatusQueueName("guest"), "q.Payments.Settlements.Status.guest"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestTopologyDeclareIsIdempotent(t *testing.T) {
	for _, qtype := range []string{broker.QueueQuorum, broker.QueueClassic, ""} {
		name := qtype
		if name == "" {
			name = "default (quorum)"
		}
		t.Run(name, func(t *testing.T) {
			u := amqpURL(t)
			top := fullTopology(qtype)
			conn, _ := dial(t, u)
			for i := 0; i < 2; i++ {
				if err := top.Declare(conn); err != nil {
					t.Fatalf("Declare #%d: %v", i+1, err)
				}
			}
			// A restarted worker declares again on a new connection.
			declareOn(t, u, top)

			want := qtype
			if want == "" {
				want = broker.QueueQuorum
			}
			for _, q := range []string{
				broker.RequestQueue(prov), broker.ParkedQueue(prov),
				broker.RetryQueue(prov, 200*time.Millisecond), broker.RetryQueue(prov, time.Second),
				broker.ProviderStatusParkedQueue(prov), broker.StatusQueueName("guest"),
			} {
				info := queueInfo(t, u, q)
				if info.Type != want || !info.Durable {
					t.Errorf("queue %s: type %q durable %v, want %s durable", q, info.Type, info.Durable, want)
				}
			}
			retry := queueInfo(t, u, broker.RetryQueue(prov, 200*time.Millisecond)).Arguments
			if ttl, _ := retry["x-message-ttl"].(float64); ttl != 200 {
				t.Errorf("retry queue x-message-ttl = %v, want 200", retry["x-message-ttl"])
			}
			if retry["x-dead-letter-exchange"] != "" || retry["x-dead-letter-routing-key"] != broker.RequestQueue(prov) {
				t.Errorf("retry queue dead-letters to %v/%v, want default exchange / %s",
					retry["x-dead-letter-exchange"], retry["x-dead-letter-routing-key"], broker.RequestQueue(prov))
			}
			req := queueInfo(t, u, broker.RequestQueue(prov)).Arguments
			if want == broker.QueueQuorum {
				if lim, _ := req["x-delivery-limit"].(float64); lim != 3 || req["x-dead-letter-routing-key"] != broker.ParkedQueue(prov) {
					t.Errorf("request queue arguments %v: want x-delivery-limit 3 dead-lettering to %s", req, broker.ParkedQueue(prov))
				}
				if retry["x-dead-letter-strategy"] != "at-least-once" {
					t.Errorf("retry queue x-dead-letter-strategy = %v, want at-least-once", retry["x-dead-letter-strategy"])
				}
			} else if _, ok := req["x-delivery-limit"]; ok {
				t.Errorf("classic request queue has x-delivery-limit: %v", req)
			}
		})
	}
}

// TestTopologyDeclareAfterConfigChange: "arguments are fixed by the queue
// name ... so a changed configuration declares new queues instead of failing
// on existing ones" (Topology's doc comment).
func TestTopologyDeclareAfterConfigChange(t *testing.T) {
	cases := []struct {
		name   string
		change func(*broker.Topology)
	}{
		{"other retry delays", func(tp *broker.Topology) { tp.RetryDelays = []time.Duration{500 * time.Millisecond, 5 * time.Second} }},
		{"more status queues", func(tp *broker.Topology) {
			tp.StatusQueues = append(tp.StatusQueues, broker.StatusQueue{Name: "q.status.s1", BindingKey: broker.StatusRoutingKey("S1")})
		}},
		{"another provider", func(tp *broker.Topology) { tp.Providers = append(tp.Providers, "other") }},
		{"other delivery limit", func(tp *broker.Topology) { tp.DeliveryLimit = 10 }},
		{"delivery limit turned off", func(tp *broker.Topology) { tp.DeliveryLimit = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := amqpURL(t)
			top := fullTopology(broker.QueueQuorum)
			declareOn(t, u, top)
			tc.change(&top)
			conn, _ := dial(t, u)
			if err := top.Declare(conn); err != nil {
				t.Fatalf("Declare after changing the configuration (%s): %v", tc.name, err)
			}
		})
	}
}

// TestTopologyRetryQueueDeadLettersBack publishes to a retry queue through
// the default exchange, as Settlement.schedule does, and expects the message
// back on the request queue once the delay has passed.
func TestTopologyRetryQueueDeadLettersBack(t *testing.T) {
	for _, qtype := range []string{broker.QueueQuorum, broker.QueueClassic} {
		t.Run(qtype, func(t *testing.T) {
			u := amqpURL(t)
			const delay = 200 * time.Millisecond
			declareOn(t, u, broker.Topology{Providers: []string{prov}, QueueType: qtype, RetryDelays: []time.Duration{delay}, DeliveryLimit: 5})
			pub := newPublisher(t, u, 1)
			msg := message.NewMessage("retry-1", []byte("<retry/>"))
			msg.Metadata.Set("settlement_attempt", "2")
			start := time.Now()
			if err := pub.Publish(testCtx(t, 10*time.Second), "", broker.RetryQueue(prov, delay), msg); err != nil {
				t.Fatalf("Publish to retry queue: %v", err)
			}
			_, ch := dial(t, u)
			d, ok := getOne(t, ch, broker.RequestQueue(prov), 5*time.Second)
			if !ok {
				t.Fatal("message never came back to the request queue")
			}
			elapsed := time.Since(start)
			if elapsed < delay {
				t.Errorf("back after %s, want at least %s", elapsed, delay)
			}
			if string(d.Body) != "<retry/>" || d.MessageId != "retry-1" || d.Headers["settlement_attempt"] != "2" {
				t.Errorf("came back changed: body %q, message id %q, headers %v", d.Body, d.MessageId, d.Headers)
			}
			deaths, ok := d.Headers["x-death"].([]any)
			if !ok || len(deaths) != 1 {
				t.Fatalf("x-death = %#v, want one entry", d.Headers["x-death"])
			}
			death, _ := deaths[0].(amqp.Table)
			if death["queue"] != broker.RetryQueue(prov, delay) || death["reason"] != "expired" {
				t.Errorf("x-death = %v, want queue %s reason expired", death, broker.RetryQueue(prov, delay))
			}
			_ = d.Ack(false)
			if n := queueDepth(t, ch, broker.RetryQueue(prov, delay)); n != 0 {
				t.Errorf("retry queue still holds %d messages", n)
			}
		})
	}
}

// TestTopologyDeliveryLimitParks: a quorum request queue dead-letters a
// message nacked with requeue DeliveryLimit+1 times into the parked queue.
func TestTopologyDeliveryLimitParks(t *testing.T) {
	cases := []struct {
		name      string
		qtype     string
		limit     int
		nacks     int
		wantParks bool
	}{
		{"quorum limit 2: parked after 3 nacks", broker.QueueQuorum, 2, 3, true},
		{"quorum limit 3: not parked after 3 nacks", broker.QueueQuorum, 3, 3, false},
		{"quorum limit 0 (off): never parked", broker.QueueQuorum, 0, 6, false},
		{"classic: no delivery limit", broker.QueueClassic, 2, 4, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := amqpURL(t)
			declareOn(t, u, broker.Topology{Providers: []string{prov}, QueueType: tc.qtype, DeliveryLimit: tc.limit})
			// Through the intake exchange: this checks the request binding too.
			publishRaw(t, u, broker.IntakeExchange, broker.RequestRoutingKey(prov),
				amqp.Publishing{MessageId: "poison", Body: []byte("<poison/>"), DeliveryMode: amqp.Persistent})
			_, ch := dial(t, u)
			for i := 0; i < tc.nacks; i++ {
				d, ok := getOne(t, ch, broker.RequestQueue(prov), 3*time.Second)
				if !ok {
					t.Fatalf("delivery %d: message gone from the request queue", i+1)
				}
				if err := d.Nack(false, true); err != nil {
					t.Fatal(err)
				}
			}
			if tc.wantParks {
				d, ok := getOne(t, ch, broker.ParkedQueue(prov), 5*time.Second)
				if !ok {
					t.Fatalf("not parked after %d nacks with delivery limit %d", tc.nacks, tc.limit)
				}
				if d.MessageId != "poison" || string(d.Body) != "<poison/>" {
					t.Errorf("parked message changed: %q %q", d.MessageId, d.Body)
				}
				deaths, _ := d.Headers["x-death"].([]any)
				if len(deaths) != 1 {
					t.Fatalf("x-death = %v", d.Headers["x-death"])
				}
				if r := deaths[0].(amqp.Table)["reason"]; r != "delivery_limit" {
					t.Errorf("x-death reason = %v, want delivery_limit", r)
				}
				if n := queueDepth(t, ch, broker.RequestQueue(prov)); n != 0 {
					t.Errorf("request queue still holds %d messages", n)
				}
				return
			}
			if _, ok := getOne(t, ch, broker.RequestQueue(prov), 3*time.Second); !ok {
				t.Fatalf("message left the request queue after %d nacks (limit %d)", tc.nacks, tc.limit)
			}
			if n := queueDepth(t, ch, broker.ParkedQueue(prov)); n != 0 {
				t.Errorf("parked queue holds %d messages", n)
			}
		})
	}
}

// TestTopologyStatusQueueBinding: status events published to the status
// exchange with StatusRoutingKey reach the declared status queues.
func TestTopologyStatusQueueBinding(t *testing.T) {
	u := amqpURL(t)
	all := broker.StatusQueueName("guest")
	declareOn(t, u, broker.Topology{
		StatusQueues: []broker.StatusQueue{
			{Name: all, BindingKey: "settlement.status.#"},
			{Name: "q.status.s1", BindingKey: broker.StatusRoutingKey("S1")},
		},
	})
	_, ch := dial(t, u)
	cases := []struct {
		store  string
		inS1Q  bool
		wantRK string
	}{
		{"ABCXYZ", false, "settlement.status.ABCXYZ"},
		{"S1", true, "settlement.status.S1"},
		{"store.with.dots", false, "settlement.status.store_with_dots"},
		{"wild#card*", false, "settlement.status.wild_card_"},
	}
	pub := newPublisher(t, u, 1)
	for _, tc := range cases {
		t.Run(tc.store, func(t *testing.T) {
			msg := message.NewMessage("st-"+tc.store, []byte(tc.store))
			if err := pub.Publish(testCtx(t, 10*time.Second), broker.StatusExchange, broker.StatusRoutingKey(tc.store), msg); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			d, ok := getOne(t, ch, all, 3*time.Second)
			if !ok {
				t.Fatalf("status for store %q did not reach %s", tc.store, all)
			}
			_ = d.Ack(false)
			if string(d.Body) != tc.store || d.RoutingKey != tc.wantRK || d.Exchange != broker.StatusExchange {
				t.Errorf("got body %q via %s/%s, want %q via %s/%s", d.Body, d.Exchange, d.RoutingKey, tc.store, broker.StatusExchange, tc.wantRK)
			}
			d, ok = getOne(t, ch, "q.status.s1", 0)
			if ok != tc.inS1Q {
				t.Errorf("in q.status.s1: %v, want %v", ok, tc.inS1Q)
			}
			if ok {
				_ = d.Ack(false)
			}
		})
	}
}

// TestTopologyDeliveryLimitOffStillParks: DELIVERY_LIMIT=0 sets no limit
// of its own, but RabbitMQ 4.0-4.2 give every quorum queue a default one
// (20), and a policy may set one: a quorum request queue dead-letters to
// its parked queue whatever the limit, so a message past a limit the
// worker did not set is parked, not dropped. It had no route then.
func TestTopologyDeliveryLimitOffStillParks(t *testing.T) {
	u := amqpURL(t)
	declareOn(t, u, broker.Topology{Providers: []string{prov}, QueueType: broker.QueueQuorum, DeliveryLimit: 0})
	req := queueInfo(t, u, broker.RequestQueue(prov)).Arguments
	if _, ok := req["x-delivery-limit"]; ok {
		t.Errorf("request queue has x-delivery-limit with DELIVERY_LIMIT=0: %v", req)
	}
	if req["x-dead-letter-exchange"] != "" || req["x-dead-letter-routing-key"] != broker.ParkedQueue(prov) || req["x-dead-letter-strategy"] != "at-least-once" {
		t.Errorf("request queue arguments %v: want dead-lettering (at least once) to %s", req, broker.ParkedQueue(prov))
	}
}

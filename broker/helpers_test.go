package broker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// amqpURL is a fresh vhost on the test broker.
func amqpURL(t *testing.T) string { t.Helper(); return testenv.AMQPURL(t) }

// testCtx is a context bounded by the test's lifetime and a hard timeout.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a raw AMQP connection and channel for test setup and checks.
func dial(t *testing.T, u string) (*amqp.Connection, *amqp.Channel) {
	t.Helper()
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	return conn, ch
}

// declare declares a durable queue of the given type with extra arguments.
func declare(t *testing.T, ch *amqp.Channel, name, qtype string, args amqp.Table) {
	t.Helper()
	a := amqp.Table{"x-queue-type": qtype}
	for k, v := range args {
		a[k] = v
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, a); err != nil {
		t.Fatalf("declare %s: %v", name, err)
	}
}

// publishRaw publishes p to the default exchange, routed to queue, and waits
// for the broker's confirm.
func publishRaw(t *testing.T, u, exchange, key string, p amqp.Publishing) {
	t.Helper()
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(testCtx(t, 10*time.Second), exchange, key, true, false, p)
	if err != nil {
		t.Fatalf("publish to %q/%q: %v", exchange, key, err)
	}
	if !dc.Wait() {
		t.Fatalf("publish to %q/%q: nacked", exchange, key)
	}
}

// getOne waits up to timeout for one message on queue (basic.get polling).
func getOne(t *testing.T, ch *amqp.Channel, queue string, timeout time.Duration) (amqp.Delivery, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			t.Fatalf("get %s: %v", queue, err)
		}
		if ok {
			return d, true
		}
		if time.Now().After(deadline) {
			return amqp.Delivery{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueDepth returns the number of ready messages in queue.
func queueDepth(t *testing.T, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %s: %v", queue, err)
	}
	return q.Messages
}

// assertEmpty checks, with a fresh connection and consumer, that queue holds
// nothing (neither ready nor about to be requeued).
func assertEmpty(t *testing.T, u, queue string, wait time.Duration) {
	t.Helper()
	_, ch := dial(t, u)
	if d, ok := getOne(t, ch, queue, wait); ok {
		t.Fatalf("queue %s should be empty, got message %q (headers %v)", queue, d.Body, d.Headers)
	}
	if n := queueDepth(t, ch, queue); n != 0 {
		t.Fatalf("queue %s: %d messages, want 0", queue, n)
	}
}

// newSubscriber builds the production watermill-amqp subscriber.
func newSubscriber(t *testing.T, u string, prefetch int) message.Subscriber {
	t.Helper()
	sub, err := broker.NewSubscriber(testCtx(t, 30*time.Second), broker.SubscriberConfig{URL: u, Prefetch: prefetch}, watermill.NopLogger{})
	if err != nil {
		t.Fatalf("NewSubscriber: %v", err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// receive waits for one message on c.
func receive(t *testing.T, c <-chan *message.Message, timeout time.Duration) *message.Message {
	t.Helper()
	select {
	case m, ok := <-c:
		if !ok {
			t.Fatal("subscription channel closed")
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %s", timeout)
	}
	return nil
}

// noMessage checks that nothing arrives on c within d.
func noMessage(t *testing.T, c <-chan *message.Message, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-c:
		if ok {
			t.Fatalf("unexpected message %s %q (metadata %v)", m.UUID, m.Payload, m.Metadata)
		}
	case <-time.After(d):
	}
}

func newPublisher(t *testing.T, u string, pool int) *broker.Publisher {
	t.Helper()
	p, err := broker.NewPublisher(testCtx(t, 30*time.Second), u, pool, zerolog.Nop())
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// mgmtDo calls the management API of the test broker.
func mgmtDo(t *testing.T, method, path string, out any) int {
	t.Helper()
	mu, err := url.Parse(testenv.ManagementURL(t))
	if err != nil {
		t.Fatal(err)
	}
	user := mu.User
	mu.User = nil
	req, err := http.NewRequest(method, mu.String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != nil {
		pass, _ := user.Password()
		req.SetBasicAuth(user.Username(), pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// vhostOf returns the vhost of an AMQP URL.
func vhostOf(t *testing.T, u string) string {
	t.Helper()
	uri, err := amqp.ParseURI(u)
	if err != nil {
		t.Fatal(err)
	}
	return uri.Vhost
}

// killConnections force-closes, through the management API, every connection
// on the vhost of u whose client-provided name is name. It returns how many
// it closed. Connections show up in the management API with a small delay,
// so it waits up to 10 s for at least one.
func killConnections(t *testing.T, u, name string) int {
	t.Helper()
	vhost := vhostOf(t, u)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var conns []struct {
			Name             string `json:"name"`
			UserProvidedName string `json:"user_provided_name"`
		}
		mgmtDo(t, http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost)+"/connections", &conns)
		n := 0
		for _, c := range conns {
			if c.UserProvidedName != name {
				continue
			}
			code := mgmtDo(t, http.MethodDelete, "/api/connections/"+url.PathEscape(c.Name), nil)
			if code/100 != 2 && code != http.StatusNotFound {
				t.Fatalf("DELETE connection %q: HTTP %d", c.Name, code)
			}
			n++
		}
		if n > 0 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection named %q on vhost %s", name, vhost)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

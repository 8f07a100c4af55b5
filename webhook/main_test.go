package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func testLogger(t *testing.T) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewTestWriter(t))
	}
	return zerolog.Nop()
}

// post is one request received by the test webhook.
type post struct {
	header   http.Header
	body     []byte
	statuses []messages.PaymentSettlementStatus
	err      error
	status   int // the answer
}

// receiver is a webhook on loopback. answer decides the status of the n-th
// POST (from 1); nil answers 200.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []post
	count  int
	answer func(n int) int
	delay  func(n int) time.Duration
	got    chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		l, err := messages.DecodeStatusList(body)
		p := post{header: req.Header.Clone(), body: body, err: err}
		if l != nil {
			p.statuses = l.Statuses
		}
		r.mu.Lock()
		r.count++
		n := r.count
		answer, delay := r.answer, r.delay
		r.mu.Unlock()
		if delay != nil {
			time.Sleep(delay(n))
		}
		p.status = http.StatusOK
		if answer != nil {
			p.status = answer(n)
		}
		r.mu.Lock()
		r.posts = append(r.posts, p)
		r.mu.Unlock()
		w.WriteHeader(p.status)
		r.got <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setAnswer(f func(n int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

func (r *receiver) setDelay(f func(n int) time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = f
}

// snapshot returns the POSTs received so far.
func (r *receiver) snapshot() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]post(nil), r.posts...)
}

// accepted returns the statuses of the POSTs answered 2xx (by order id).
func (r *receiver) accepted() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, p := range r.posts {
		if p.status/100 != 2 {
			continue
		}
		for _, s := range p.statuses {
			out[s.OrderID()]++
		}
	}
	return out
}

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testConfig returns a fast configuration for amqpURL and the receiver.
func testConfig(amqpURL string, r *receiver) Config {
	c := Config{
		AMQPURL: amqpURL, URL: r.srv.URL + "/statuses", QueueType: broker.QueueClassic,
		Username: "webhook-user", Password: "webhook-pass",
		BatchSize: 10, BatchWait: 300 * time.Millisecond,
		HTTPTimeout: 2 * time.Second, RetryInitial: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	}
	c.ApplyDefaults()
	return c
}

// start runs a deliverer until the test ends (or it is closed) and waits
// until it consumes.
func start(t *testing.T, cfg Config) *Deliverer {
	t.Helper()
	d, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = d.Close()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	waitFor(t, 30*time.Second, "the deliverer to consume", d.Ready)
	return d
}

// status is a status event body for an order.
func status(t *testing.T, order string) []byte {
	t.Helper()
	b, err := messages.Encode(messages.PaymentSettlementStatus{
		PaymentContextBase: &messages.PaymentContextBase{OrderID: order},
		TenderType:         "PY", Amount: messages.Amount{CurrencyCode: "USD", Value: "35.00"},
		SettlementType: messages.SettlementDebit, SettlementStatus: messages.StatusSettled,
		ClientContext: "ctx-" + order, StoreID: "ABCXYZ",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// publisher publishes to the status exchange as the worker does.
type publisher struct {
	t  *testing.T
	ch *amqp.Channel
}

func newPublisher(t *testing.T, amqpURL string) *publisher {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(broker.StatusExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	return &publisher{t: t, ch: ch}
}

// publish sends body with message id id (none when "").
func (p *publisher) publish(id string, body []byte) {
	p.t.Helper()
	dc, err := p.ch.PublishWithDeferredConfirm(broker.StatusExchange, broker.StatusRoutingKey("ABCXYZ"), true, false, amqp.Publishing{
		ContentType: "application/xml", Type: broker.StatusMessageType, DeliveryMode: amqp.Persistent,
		MessageId: id, Headers: amqp.Table{"store_id": "ABCXYZ"}, Body: body,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	if !dc.Wait() {
		p.t.Fatal("publish not confirmed")
	}
}

// statuses publishes one status per order, message ids "m-<order>".
func (p *publisher) statuses(orders ...string) {
	for _, o := range orders {
		p.publish("m-"+o, status(p.t, o))
	}
}

// depth returns the messages in queue (ready; unacked ones are counted once
// their consumer is gone).
func depth(t *testing.T, amqpURL, queue string) int {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %s: %v", queue, err)
	}
	return q.Messages
}

func orders(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

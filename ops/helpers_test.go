package ops_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	providers = []string{"radial", "paysafe"}
	delays    = []time.Duration{time.Second, 5 * time.Second}
	// now is the tests' clock: parked_at and store times are set from it.
	now = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
)

// pan is a card number that must never be printed.
const pan = "4400000000000008"

func requestXML(id, order string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementRequest requestId="` + id + `" xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
  <PaymentContext><OrderId>` + order + `</OrderId><PaymentAccountUniqueId isToken="false">` + pan + `</PaymentAccountUniqueId></PaymentContext>
  <InvoiceId>inv-1</InvoiceId>
  <Amount currencyCode="USD">100.00</Amount>
  <SettlementType>Debit</SettlementType>
  <ClientContext>ctx-` + id + `</ClientContext>
</PaymentSettlementRequest>`)
}

func requestJSON(id, order string) []byte {
	return []byte(`{"requestId": "` + id + `", "paymentContextBase": {"orderId": "` + order + `"},
  "amount": {"currencyCode": "USD", "value": "10.00"}, "settlementType": "Debit"}`)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a fresh vhost with the worker's topology and an SQLite store
// held open by a "worker" (so PATH.lock is taken).
type fixture struct {
	t       *testing.T
	url     string
	ch      *amqp.Channel
	dsn     string
	st      store.Store
	out     *syncBuffer
	errOut  *syncBuffer
	ctx     context.Context
	clock   time.Time
	clockMu sync.Mutex
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := &fixture{t: t, url: testenv.AMQPURL(t), out: &syncBuffer{}, errOut: &syncBuffer{}, ctx: ctx, clock: now.Add(-24 * time.Hour)}
	conn, err := amqp.Dial(f.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := (broker.Topology{Providers: providers, RetryDelays: delays, DeliveryLimit: 20}).Declare(conn); err != nil {
		t.Fatal(err)
	}
	if f.ch, err = conn.Channel(); err != nil {
		t.Fatal(err)
	}
	if err := f.ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "settlements.db")
	}
	f.dsn = dsn
	if f.st, err = store.Open(ctx, dsn, store.WithClock(f.tick)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	return f
}

// tick is the worker store's clock: a second per reading.
func (f *fixture) tick() time.Time {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	f.clock = f.clock.Add(time.Second)
	return f.clock
}

func (f *fixture) setClock(t time.Time) {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	f.clock = t
}

func (f *fixture) env() ops.Env {
	return ops.Env{AMQPURL: f.url, StoreDSN: f.dsn, Providers: providers, RetryDelays: delays,
		Out: f.out, Err: f.errOut, Now: func() time.Time { return now }}
}

// reset empties the captured output.
func (f *fixture) reset() {
	f.out.mu.Lock()
	f.out.b.Reset()
	f.out.mu.Unlock()
	f.errOut.mu.Lock()
	f.errOut.b.Reset()
	f.errOut.mu.Unlock()
}

func (f *fixture) publish(exchange, key string, p amqp.Publishing) {
	f.t.Helper()
	dc, err := f.ch.PublishWithDeferredConfirmWithContext(f.ctx, exchange, key, true, false, p)
	if err != nil || !dc.Wait() {
		f.t.Fatalf("publish to %q %q: %v", exchange, key, err)
	}
}

// publishMany publishes n messages, the i-th p(i), to exchange with key,
// as publish does but waiting for their confirms together: thousands in
// a test's time.
func (f *fixture) publishMany(exchange, key string, n int, p func(i int) amqp.Publishing) {
	f.t.Helper()
	pending := make([]*amqp.DeferredConfirmation, 0, n)
	for i := range n {
		dc, err := f.ch.PublishWithDeferredConfirmWithContext(f.ctx, exchange, key, true, false, p(i))
		if err != nil {
			f.t.Fatalf("publish to %q %q: %v", exchange, key, err)
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if !dc.Wait() {
			f.t.Fatalf("publish to %q %q: nacked", exchange, key)
		}
	}
}

// park parks a request as the worker does, parkedAgo before now.
func (f *fixture) park(provider, id, reason string, attempts int, parkedAgo time.Duration) {
	f.t.Helper()
	h := amqp.Table{"store_id": "S1", "tender_type": "VC", "parked_reason": reason,
		"parked_at": now.Add(-parkedAgo).Format(time.RFC3339), "parked_from_queue": broker.RequestQueue(provider)}
	if attempts > 0 {
		h["parked_attempts"] = fmt.Sprint(attempts)
		h["settlement_attempt"] = fmt.Sprint(attempts)
	}
	f.publish("", broker.ParkedQueue(provider), amqp.Publishing{MessageId: "msg-" + id, ContentType: "application/xml",
		DeliveryMode: amqp.Persistent, Headers: h, Body: requestXML(id, "O-"+id)})
}

// ids drains queue (acking) and returns the request ids in order, from
// the message ids park set.
func (f *fixture) ids(queue string) []string {
	f.t.Helper()
	var out []string
	for {
		d, ok, err := f.ch.Get(queue, true)
		if err != nil {
			f.t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, strings.TrimPrefix(d.MessageId, "msg-"))
	}
}

// depth waits for queue to settle at want ready messages.
func (f *fixture) depth(queue string, want int) {
	f.t.Helper()
	var got int
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		q, err := f.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		if got = q.Messages; got == want {
			return
		}
	}
	f.t.Fatalf("%s: %d ready messages, want %d", queue, got, want)
}

// started runs cmd in the background; ended waits for its error.
func started(cmd func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- cmd() }()
	return done
}

// ended returns the error of a command started (started) against a store
// or a broker that stops answering. When the command is still waiting
// after limit, unstick (when set) ends what it waits on, so that it
// returns, and the test fails: the command never ends on its own.
func ended(t *testing.T, done <-chan error, limit time.Duration, what string, unstick func()) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		if unstick != nil {
			unstick()
			<-done
		}
		t.Fatalf("%s still waiting after %s", what, limit)
		return nil
	}
}

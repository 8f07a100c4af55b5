package ops_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

func (f *fixture) status(provider, storeID, requestID, status, reason string) {
	f.t.Helper()
	f.publish(broker.StatusExchange, broker.StatusRoutingKey(storeID), amqp.Publishing{
		ContentType: "application/xml", Type: broker.StatusMessageType, MessageId: "ev-" + requestID, CorrelationId: requestID,
		Timestamp: now, Body: statusBody(f.t, status, reason),
		Headers: amqp.Table{"request_id": requestID, "store_id": storeID, "provider": provider, "settlement_status": status, "order_id": "O-" + requestID},
	})
}

// fakeWorker answers every request of provider at once with a status
// event for another request, then an R for the request itself.
func (f *fixture) fakeWorker(provider string) {
	conn, err := amqp.Dial(f.url)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	ds, err := ch.Consume(broker.RequestQueue(provider), "", true, false, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	go func() {
		for d := range ds {
			storeID := broker.Stringify(d.Headers["store_id"])
			for _, id := range []string{"someone-else", d.MessageId} {
				_ = ch.PublishWithContext(context.Background(), broker.StatusExchange, broker.StatusRoutingKey(storeID), false, false, amqp.Publishing{
					Timestamp: now, Body: statusBody(f.t, "R", "Issuer declined"),
					Headers: amqp.Table{"request_id": id, "store_id": storeID, "provider": provider, "settlement_status": "R", "order_id": "O-1"},
				})
			}
		}
	}()
}

func TestPublish(t *testing.T) {
	f := newFixture(t, "")
	dir := t.TempDir()
	xmlFile := filepath.Join(dir, "r1.xml")
	jsonFile := filepath.Join(dir, "request") // no extension: sniffed
	for name, body := range map[string][]byte{xmlFile: requestXML("r1", "O-r1"), jsonFile: requestJSON("j1", "O-j1")} {
		if err := os.WriteFile(name, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	garbage, plain := filepath.Join(dir, "bad.json"), filepath.Join(dir, "plain")
	for name, body := range map[string]string{garbage: `{"requestId": 7}`, plain: "hello"} {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.fakeWorker("radial")

	// --wait: the status of r1 (not someone else's) is printed.
	err := ops.Publish(f.ctx, f.env(), ops.PublishOptions{File: xmlFile, Provider: "radial", StoreID: "S1", TenderType: "VC", Wait: 10 * time.Second, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	out := f.out.String()
	for _, want := range []string{"published request r1 (order O-r1, application/xml) to payments.settlements with routing key settlement.request.radial",
		"radial    r1", "R rejected", `reason="Issuer declined"`} {
		if !strings.Contains(out, want) {
			t.Errorf("publish --wait output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "someone-else") || strings.Contains(out, pan) {
		t.Errorf("publish --wait printed another request's status or the card number:\n%s", out)
	}

	// JSON, sniffed; headers as the worker expects them.
	err = ops.Publish(f.ctx, f.env(), ops.PublishOptions{File: jsonFile, Provider: "paysafe", StoreID: "S2", Force: true,
		Headers: map[string]string{"original_authorization_amount": "12.00"}})
	if err != nil {
		t.Fatal(err)
	}
	f.depth(broker.RequestQueue("paysafe"), 1)
	d, ok, err := f.ch.Get(broker.RequestQueue("paysafe"), true)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if d.ContentType != "application/json" || d.MessageId != "j1" || d.DeliveryMode != amqp.Persistent ||
		d.Headers["store_id"] != "S2" || d.Headers["original_authorization_amount"] != "12.00" || d.Headers["tender_type"] != nil {
		t.Errorf("published %s %s mode %d headers %v", d.ContentType, d.MessageId, d.DeliveryMode, d.Headers)
	}

	for _, tc := range []struct {
		name string
		o    ops.PublishOptions
		want string
	}{
		{"unroutable", ops.PublishOptions{File: xmlFile, Provider: "frisbii", StoreID: "S1", Force: true}, "unroutable"},
		{"no status", ops.PublishOptions{File: jsonFile, Provider: "paysafe", StoreID: "S1", Wait: 300 * time.Millisecond, Force: true}, "no status event for j1 within 300ms"},
		{"missing file", ops.PublishOptions{File: jsonFile + "-missing", Provider: "radial", StoreID: "S1"}, "no such file"},
		{"not a request", ops.PublishOptions{File: garbage, Provider: "radial", StoreID: "S1"}, "is not a settlement request the worker can read"},
		{"neither XML nor JSON", ops.PublishOptions{File: plain, Provider: "radial", StoreID: "S1"}, "cannot tell XML from JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ops.Publish(f.ctx, f.env(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	f := newFixture(t, "")
	ctx, cancel := context.WithCancel(f.ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- ops.Tail(ctx, f.env(), ops.TailOptions{StoreID: "S1", Provider: "radial", Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	f.status("paysafe", "S1", "other-provider", "S", "")
	f.status("radial", "S2", "other-store", "S", "")
	f.status("radial", "S1", "r1", "S", "")
	f.status("radial", "S1", "r2", "R", "Chargeback")
	for end := time.Now().Add(5 * time.Second); strings.Count(f.out.String(), "\n") < 2 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Tail: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(f.out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "2026-03-04T05:00:00Z  radial    r1") || !strings.Contains(lines[0], "order=O-r1") ||
		!strings.Contains(lines[0], "S settled") || !strings.Contains(lines[1], `R rejected  reason="Chargeback"`) {
		t.Errorf("tail printed:\n%s", f.out)
	}
}

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
	"github.com/settlement-worker/settlement-worker/store"
)

// A requestId holding a card number (a sender's mistake; it stays the
// settlement's key): show, stuck, parked ls and a replay's dry run printed
// it whole, as text and as JSON, and in the provider reference that echoes
// it (Frisbii's idempotency key). They print it masked beside the fields
// that tell the row (provider, masked order, state, times), and take the
// full requestId as input (the operator has it from the order system).
func TestOperatorCommandsMaskACardNumberInTheRequestID(t *testing.T) {
	const card = "4012888888881881"
	const id, masked = "REQ-" + card, "REQ-************1881"
	f := newFixture(t, "")
	f.setClock(now.Add(-3 * time.Hour))
	key := store.Key{Provider: "paysafe", RequestID: id}
	if _, _, err := f.st.Register(f.ctx, store.Settlement{
		Key: key, Fingerprint: "fp", StoreID: "S1", OrderID: "O-1", TenderType: "VC", SettlementType: "Debit",
		Amount: "100.00", Currency: "USD", Request: requestXML(id, "O-1"), ContentType: "application/xml",
		Headers: map[string]string{"store_id": "S1"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Transition(f.ctx, key, nil, store.StateSubmitting, store.Change{Refs: map[string]string{"idempotency_key": id}}, nil); err != nil {
		t.Fatal(err)
	}
	f.setClock(now)
	f.publish("", broker.ParkedQueue("paysafe"), amqp.Publishing{MessageId: id, ContentType: "application/xml",
		DeliveryMode: amqp.Persistent, Body: requestXML(id, "O-1"), Headers: amqp.Table{
			"store_id": "S1", "parked_reason": "provider unavailable",
			"parked_at": now.Add(-time.Hour).Format(time.RFC3339), "parked_from_queue": broker.RequestQueue("paysafe")}})
	checkCommandsMask(t, f, card, masked, "request id", map[string]func(asJSON bool) error{
		"show":                   func(asJSON bool) error { return ops.Show(f.ctx, f.env(), id, nil, asJSON) },
		"stuck":                  func(asJSON bool) error { return ops.Stuck(f.ctx, f.env(), nil, nil, time.Hour, asJSON) },
		"parked ls":              func(asJSON bool) error { return ops.List(f.ctx, f.env(), ops.Filter{}, asJSON) },
		"parked ls --request-id": func(asJSON bool) error { return ops.List(f.ctx, f.env(), ops.Filter{RequestID: id}, asJSON) },
		"parked replay --dry-run": func(bool) error {
			return ops.Replay(f.ctx, f.env(), ops.Filter{RequestID: id}, ops.ReplayOptions{DryRun: true})
		},
	})
	// stuck --json tells the row by its creation too, as show does.
	f.reset()
	if err := ops.Stuck(f.ctx, f.env(), nil, nil, time.Hour, true); err != nil {
		t.Fatal(err)
	}
	if out := f.out.String(); !strings.Contains(out, `"created_at": "2026-03-04T02:00:01Z"`) {
		t.Errorf("stuck --json lacks the settlement's created_at:\n%s", out)
	}
	// An id nothing has: the error names it masked.
	const other = "REQ-4111111111111111"
	for name, run := range map[string]func() error{
		"show":          func() error { return ops.Show(f.ctx, f.env(), other, nil, false) },
		"parked replay": func() error { return ops.Replay(f.ctx, f.env(), ops.Filter{RequestID: other}, ops.ReplayOptions{}) },
	} {
		if err := run(); err == nil || strings.Contains(err.Error(), "4111111111") || !strings.Contains(err.Error(), "REQ-************1111") {
			t.Errorf("%s of an unknown id: %v, want an error naming it masked", name, err)
		}
	}
}

// publish and tail printed the requestId of the request they send and of
// the status events they show whole. They mask a card number in it.
func TestPublishAndTailMaskACardNumberInTheRequestID(t *testing.T) {
	const card = "4012888888881881"
	const id, masked = "REQ-" + card, "REQ-************1881"
	f := newFixture(t, "")
	file := filepath.Join(t.TempDir(), "req.xml")
	if err := os.WriteFile(file, requestXML(id, "O-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ops.Publish(f.ctx, f.env(), ops.PublishOptions{File: file, Provider: "paysafe", StoreID: "S1", TenderType: "VC", Force: true}); err != nil {
		t.Fatal(err)
	}
	if out := f.out.String(); strings.Contains(out, card[:10]) || !strings.Contains(out, masked) {
		t.Errorf("publish printed:\n%s\nwant the requestId masked", out)
	}
	f.reset()
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- ops.Tail(ctx, f.env(), ops.TailOptions{StoreID: "S1", Ready: func() { close(ready) }}) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	f.publish(broker.StatusExchange, broker.StatusRoutingKey("S1"), amqp.Publishing{ContentType: "application/xml", MessageId: "ev",
		CorrelationId: id, Headers: amqp.Table{"request_id": id, "store_id": "S1", "provider": "paysafe", "settlement_status": "S"}})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.out.String(), "paysafe") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if out := f.out.String(); strings.Contains(out, card[:10]) || !strings.Contains(out, masked) {
		t.Errorf("tail printed:\n%s\nwant the requestId masked", out)
	}
}

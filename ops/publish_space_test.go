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

// The worker reads store_id trimmed (handlers.understand) and routes the
// request's status by that trimmed id (settlement.status.S1). publish
// --wait with a store id written " S1 " (a copied value) must still see
// that status, not wait in vain and say it may still be in flight.
func TestPublishWaitStoreIDWithSpace(t *testing.T) {
	f := newFixture(t, "")
	file := filepath.Join(t.TempDir(), "r1.xml")
	if err := os.WriteFile(file, requestXML("r1", "O-r1"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(f.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume(broker.RequestQueue("radial"), "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range ds {
			storeID := strings.TrimSpace(broker.Stringify(d.Headers["store_id"])) // as the worker reads it
			_ = ch.PublishWithContext(context.Background(), broker.StatusExchange, broker.StatusRoutingKey(storeID), false, false, amqp.Publishing{
				Timestamp: now, Body: statusBody(t, "S", ""), CorrelationId: d.MessageId,
				Headers: amqp.Table{"request_id": d.MessageId, "store_id": storeID, "provider": "radial", "settlement_status": "S", "order_id": "O-r1"},
			})
		}
	}()
	for _, id := range []string{" S1", "S1 ", "\tS1"} {
		err := ops.Publish(f.ctx, f.env(), ops.PublishOptions{File: file, Provider: "radial", StoreID: id, TenderType: "VC", Wait: 3 * time.Second, Force: true})
		if err != nil {
			t.Errorf("store id %q: %v", id, err)
		}
	}
}

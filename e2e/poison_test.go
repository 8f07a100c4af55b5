package e2e

import (
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// TestRequestWithUnreadableHeadersIsParkedAndTheWorkerGoesOn: an order
// system publishes a request whose header table nests 40 levels deep
// (RabbitMQ takes it; the AMQP client refuses anything past 32 by closing
// its connection), then a valid request. The worker process parks the
// first with the header named, settles the second — one capture in
// Radial's ledger, none for the first — and keeps consuming.
func TestRequestWithUnreadableHeadersIsParkedAndTheWorkerGoesOn(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-poison", Amount: "100.00"})
	e.start()
	bad, good := uniq("poison"), uniq("after-poison")

	deep := amqp.Table{"leaf": "x"}
	for range 40 {
		deep = amqp.Table{"n": deep}
	}
	conn, err := amqp.Dial(e.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	r := req{RequestID: bad, OrderID: "o-poison", Amount: "10.00"}
	dc, err := ch.PublishWithDeferredConfirm(broker.IntakeExchange, broker.RequestRoutingKey("radial"), true, false, amqp.Publishing{
		ContentType: "application/xml", DeliveryMode: amqp.Persistent, MessageId: "pub-" + bad,
		Headers: amqp.Table{"store_id": storeID, "tender_type": "VC", "trace": deep}, Body: r.xml(t),
	})
	if err != nil || !dc.Wait() {
		t.Fatalf("publish %s: %v", bad, err)
	}
	e.publish(req{RequestID: good, OrderID: "o-poison", Amount: "20.00"})

	oneEvent(t, e, good, messages.StatusSettled)
	parked := e.parked(broker.ParkedQueue("radial"), 1, wait)
	if len(parked) != 1 || parked[0].MessageId != "pub-"+bad {
		t.Fatalf("want %s parked, got %d parked messages", bad, len(parked))
	}
	if reason := broker.Stringify(parked[0].Headers[handlers.HeaderParkedReason]); !strings.Contains(reason, `"trace" (nested deeper than 32 levels)`) {
		t.Errorf("parked_reason %q does not name the header", reason)
	}
	if led := e.ledger(bad); len(led) != 0 {
		t.Errorf("the unreadable request reached Radial: %+v", led)
	}
	if led := e.ledger(good); len(led) != 1 {
		t.Errorf("ledger of %s: %+v, want one capture", good, led)
	}
	if n := len(e.statuses.of(bad)); n != 0 {
		t.Errorf("%d statuses for the parked request", n)
	}
}

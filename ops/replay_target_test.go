package ops_test

import (
	"fmt"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// A request the broker dead-letters to its provider's parked queue (the
// request queue's delivery limit: the worker failed on it every time)
// keeps the headers its publisher set, and `parked replay` republished it
// to the queue its parked_from_queue header named. The worker sets that
// header on the copies it parks itself, always to the provider's own
// request queue; on a dead-lettered request it is the publisher's, and a
// replay moved a Radial request into Paysafe's request queue (to be
// settled by another provider) or into any queue of the vhost. A request
// parked from a provider's parked queue is replayed to that provider's
// request queue, whatever its headers say.
func TestReplayOfADeadLetteredRequestIgnoresItsPublishersParkedFromQueue(t *testing.T) {
	f := newFixture(t, "")
	other := broker.RequestQueue("paysafe")
	f.publish(broker.IntakeExchange, broker.RequestRoutingKey("radial"), amqp.Publishing{
		MessageId: "msg-r1", ContentType: "application/xml", DeliveryMode: amqp.Persistent,
		Headers: amqp.Table{"store_id": "S1", "tender_type": "VC", "parked_from_queue": other},
		Body:    requestXML("r1", "O-r1"),
	})
	// The worker fails on it until the delivery limit (20) dead-letters it.
	for i := 0; ; i++ {
		d, ok, err := f.ch.Get(broker.RequestQueue("radial"), false)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if i > 40 {
			t.Fatal("the request queue's delivery limit did not dead-letter the request")
		}
		if err := d.Nack(false, true); err != nil {
			t.Fatal(err)
		}
	}
	f.depth(broker.ParkedQueue("radial"), 1)

	if err := ops.Replay(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}}, ops.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := f.out.String(); strings.Contains(out, other) {
		t.Errorf("replay output names %s:\n%s", other, out)
	}
	f.depth(broker.ParkedQueue("radial"), 0)
	if got := f.ids(other); len(got) != 0 {
		t.Fatalf("the dead-lettered Radial request was replayed into %s (%v): another provider would settle it", other, got)
	}
	if got := f.ids(broker.RequestQueue("radial")); fmt.Sprint(got) != "[r1]" {
		t.Fatalf("radial request queue holds %v after the replay, want [r1]", got)
	}
}

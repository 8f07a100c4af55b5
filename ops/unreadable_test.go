package ops_test

import (
	"fmt"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// A parked request whose header table the AMQP client cannot read (nested
// deeper than 32 levels: the broker dead-letters such a request to the
// parked queue once the worker's consumers failed on it up to the
// delivery limit) closed the connection of every `parked ls`, `parked
// replay` and `parked purge` of its queue: nothing in it could be listed,
// replayed or purged. The operator commands read through the header
// guard: it is listed, and can be purged.
func TestParkedRequestWithUnreadableHeadersCanBeListedAndPurged(t *testing.T) {
	f := newFixture(t, "")
	deep := amqp.Table{"leaf": "x"}
	for range 40 {
		deep = amqp.Table{"n": deep}
	}
	f.park("radial", "r1", "provider down", 2, 0)
	f.publish("", broker.ParkedQueue("radial"), amqp.Publishing{MessageId: "msg-r2", ContentType: "application/xml", DeliveryMode: amqp.Persistent,
		Headers: amqp.Table{"store_id": "S1", "tender_type": "VC", "trace": deep}, Body: requestXML("r2", "O-r2")})
	if err := ops.List(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}}, false); err != nil {
		t.Fatalf("parked ls: %v", err)
	}
	if out := f.out.String(); !strings.Contains(out, "r1") || !strings.Contains(out, "r2") {
		t.Fatalf("parked ls lists:\n%s", out)
	}
	if err := ops.Purge(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}, RequestID: "r2"}, ops.PurgeOptions{}); err != nil {
		t.Fatalf("parked purge --request-id r2: %v", err)
	}
	f.depth(broker.ParkedQueue("radial"), 1)
	if got := f.ids(broker.ParkedQueue("radial")); fmt.Sprint(got) != "[r1]" {
		t.Fatalf("parked queue holds %v after the purge, want [r1]", got)
	}
}

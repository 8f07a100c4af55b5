package webhook

import (
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

// publishEvent publishes a settlement's seq-th status event as the worker
// does: message id id, headers provider, request_id and status_seq.
func (p *publisher) publishEvent(id, requestID string, seq int, body []byte) {
	p.t.Helper()
	dc, err := p.ch.PublishWithDeferredConfirm(broker.StatusExchange, broker.StatusRoutingKey("ABCXYZ"), true, false, amqp.Publishing{
		ContentType: "application/xml", Type: broker.StatusMessageType, DeliveryMode: amqp.Persistent, MessageId: id,
		Headers: amqp.Table{"store_id": "ABCXYZ", "provider": "radial", "request_id": requestID, "status_seq": strconv.Itoa(seq)},
		Body:    body,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	if !dc.Wait() {
		p.t.Fatal("publish not confirmed")
	}
}

// The deliverer dropped a republished status by its message id only, and
// forgot the oldest ids first: with a settlement's S forgotten and its
// chargeback R still remembered (another status delivered between them), the worker republishing both (the outbox
// relay, at least once) had the S POSTed again on its own, after the R —
// a receiver applying statuses as they come ended at S for a payment that
// was reversed. An event older (status_seq) than one of its settlement
// already delivered is never delivered.
func TestRepublishedSIsNotDeliveredAfterItsChargeback(t *testing.T) {
	u := testenv.AMQPURL(t)
	rcv := newReceiver(t)
	cfg := testConfig(u, rcv)
	cfg.Queue = "webhook.seqorder"
	cfg.ParkedQueue = cfg.Queue + ".parked"
	cfg.BatchSize, cfg.BatchWait = 1, 10*time.Millisecond
	cfg.RecentIDs = 3
	start(t, cfg)
	p := newPublisher(t, u)
	p.publishEvent("m-x-S", "req-x", 1, status(t, "x"))
	p.publishEvent("m-a-S", "req-a", 1, status(t, "a"))
	p.publishEvent("m-x-R", "req-x", 2, chargeback(t, "x"))
	p.publishEvent("m-b-S", "req-b", 1, status(t, "b")) // pushes m-x-S out of the remembered ids
	waitFor(t, 15*time.Second, "four statuses", func() bool { return len(rcv.snapshot()) >= 4 })
	// The worker republishes x's events (same message ids), in order.
	p.publishEvent("m-x-S", "req-x", 1, status(t, "x"))
	p.publishEvent("m-x-R", "req-x", 2, chargeback(t, "x"))
	p.publishEvent("m-z-S", "req-z", 1, status(t, "z")) // a marker: delivered after the republished ones
	waitFor(t, 15*time.Second, "z's status", func() bool { return rcv.accepted()["z"] == 1 })
	last := ""
	var got []string
	for _, post := range rcv.snapshot() {
		for _, s := range post.statuses {
			if s.OrderID() == "x" {
				last = s.SettlementStatus
				got = append(got, s.SettlementStatus)
			}
		}
	}
	if last != messages.StatusRejected {
		t.Fatalf("the receiver got %v for order x and ends at %s, want it at R: the republished S was delivered after its chargeback", got, last)
	}
}

// A settlement's highest delivered seq is remembered as long as any of
// its delivered ids is: the S's id forgotten, the R's remembered, the S
// is superseded; both forgotten, nothing is kept for the settlement.
func TestRecentIDsRememberASettlementsSeqWithItsIDs(t *testing.T) {
	r := newRecentIDs(3)
	r.add(sent{"m-x-S", "radial/req-x", 1}, sent{"m-a", "radial/req-a", 1}, sent{"m-x-R", "radial/req-x", 2}, sent{"m-b", "radial/req-b", 1})
	if r.has("m-x-S") || !r.superseded("radial/req-x", 1) || r.superseded("radial/req-x", 2) || r.superseded("radial/req-x", 3) {
		t.Fatal("with x's R remembered, its S must be superseded (and only seqs below 2)")
	}
	r.add(sent{"m-c", "radial/req-c", 1}, sent{"m-d", "", 0}, sent{"m-e", "radial/req-e", 1})
	if r.superseded("radial/req-x", 1) || len(r.settled) != 2 {
		t.Fatalf("x's ids forgotten: its seq is kept still (settlements %v)", r.settled)
	}
}

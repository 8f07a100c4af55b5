package webhook

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestParkedReasonOfAnyLengthParksAndMovesOn: a status that breaks
// Radial's schema many times over (thousands of unknown elements: the
// validator names every one) was parked with all of its problems as the
// parked_reason header. A header larger than the broker's frame (128 KiB)
// makes the broker close the connection: the park failed, the session
// ended, the status came back first, and so on forever — every later
// status, of every store, waited undelivered while the deliverer
// reconnected. The reason is bounded: the status is parked and the queue
// moves on.
func TestParkedReasonOfAnyLengthParksAndMovesOn(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	cfg := testConfig(u, r)
	d := start(t, cfg)
	p := newPublisher(t, u)
	bad := bytes.Replace(status(t, "huge1"), []byte("<StoreId>"), []byte(strings.Repeat("<Unknown/>", 20000)+"<StoreId>"), 1)
	p.publish("huge-1", bad)
	p.statuses("after1")
	waitFor(t, 20*time.Second, "the status published after it", func() bool { return len(r.accepted()) == 1 })
	_ = d.Close()
	if got := r.accepted(); !maps.Equal(got, map[string]int{"after1": 1}) {
		t.Errorf("delivered %v, want only after1", got)
	}
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	m, ok, err := ch.Get(cfg.ParkedQueue, true)
	if err != nil || !ok {
		t.Fatalf("nothing parked (%v)", err)
	}
	reason, _ := m.Headers["parked_reason"].(string)
	if m.MessageId != "huge-1" || !strings.Contains(reason, "not a valid PaymentSettlementStatus") || len(reason) > 4096 {
		t.Fatalf("parked %q with a reason of %d bytes: %.200s", m.MessageId, len(reason), reason)
	}
	if n := depth(t, u, cfg.Queue); n != 0 {
		t.Fatalf("%d left in the queue", n)
	}
}

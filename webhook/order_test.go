package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

// chargeback is the R status the worker publishes after an S when the
// provider reports a chargeback (TestChargebackAfterSettlementIsAFurtherEvent):
// a further event of the same settlement, with its own message_id.
func chargeback(t *testing.T, order string) []byte {
	t.Helper()
	b, err := messages.Encode(messages.PaymentSettlementStatus{
		PaymentContextBase: &messages.PaymentContextBase{OrderID: order},
		TenderType:         "PY", Amount: messages.Amount{CurrencyCode: "USD", Value: "35.00"},
		SettlementType: messages.SettlementDebit, SettlementStatus: messages.StatusRejected,
		DeclineReason: "chargeback", ClientContext: "ctx-" + order, StoreID: "ABCXYZ",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verdictLog is a webhook receiver that records the verdicts it accepted,
// in the order it accepted them, and refuses (503) the first POST that
// holds an S: a receiver restarting, a proxy's hiccup.
type verdictLog struct {
	mu       sync.Mutex
	accepted []string // "S" / "R", in the order applied
	refusedS bool
}

func (v *verdictLog) handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	l, err := messages.DecodeStatusList(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range l.Statuses {
		if s.SettlementStatus == messages.StatusSettled && !v.refusedS {
			v.refusedS = true
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	for _, s := range l.Statuses {
		v.accepted = append(v.accepted, s.SettlementStatus)
	}
	w.WriteHeader(http.StatusOK)
}

func (v *verdictLog) got() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.accepted...)
}

// TestReplicasDeliverOneSettlementsEventsInOrder: every worker replica runs
// a deliverer on the same WEBHOOK_QUEUE. The worker publishes a settlement's
// S before its chargeback R (confirmed, in that order), but with competing
// consumers the S may go to one replica and the R to the other: when the
// S's POST fails once, the R is delivered first and the S after it, and the
// receiver, applying statuses as they come, ends with S — the chargeback is
// lost and the verdict it shows is wrong. Statuses must reach the webhook
// in the order they were published, whatever the number of replicas.
func TestReplicasDeliverOneSettlementsEventsInOrder(t *testing.T) {
	u := testenv.AMQPURL(t)
	v := &verdictLog{}
	srv := httptest.NewServer(http.HandlerFunc(v.handler))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, queueType string
		// existing: the queue was declared by an earlier version, without
		// a single active consumer (kept as it is: consumed exclusively).
		existing bool
	}{
		{"classic", broker.QueueClassic, false},
		{"quorum", broker.QueueQuorum, false},
		{"existing classic queue", broker.QueueClassic, true},
		{"existing quorum queue", broker.QueueQuorum, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v.mu.Lock()
			v.accepted, v.refusedS = nil, false
			v.mu.Unlock()
			cfg := testConfig(u, &receiver{srv: srv})
			cfg.Queue = "webhook.order." + strings.ReplaceAll(tc.name, " ", "-")
			cfg.ParkedQueue = cfg.Queue + ".parked"
			cfg.QueueType = tc.queueType
			cfg.BatchSize, cfg.BatchWait = 1, 10*time.Millisecond
			cfg.RetryInitial, cfg.RetryMax = 300*time.Millisecond, 300*time.Millisecond
			if tc.existing {
				declareBare(t, u, cfg.Queue, tc.queueType)
				old := standbyRetry
				standbyRetry = 100 * time.Millisecond
				t.Cleanup(func() { standbyRetry = old })
			}
			first := start(t, cfg) // replica 1
			start(t, cfg)          // replica 2
			p := newPublisher(t, u)
			p.publish("m-x-S", status(t, "x"))
			p.publish("m-x-R", chargeback(t, "x"))
			waitFor(t, 15*time.Second, "both statuses", func() bool { return len(v.got()) >= 2 })
			time.Sleep(500 * time.Millisecond)
			if got := v.got(); len(got) != 2 || got[0] != "S" || got[1] != "R" {
				t.Fatalf("the webhook applied %v, want [S R]: the chargeback overtaken by the S it follows leaves the receiver at S", got)
			}
			// The replica standing by takes over when the first one goes.
			_ = first.Close()
			p.publish("m-y-S", status(t, "y"))
			waitFor(t, 15*time.Second, "the status after the first replica closed", func() bool { return len(v.got()) >= 3 })
		})
	}
}

// declareBare declares queue as a version before the single active
// consumer did: its type only (and bound as the deliverer binds it).
func declareBare(t *testing.T, amqpURL, queue, queueType string) {
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
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": queueType}); err != nil {
		t.Fatal(err)
	}
}

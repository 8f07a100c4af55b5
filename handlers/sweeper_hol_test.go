package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// parkOverdue returned at the first settlement whose parked copy could not
// be published, and that settlement, never recorded as parked, stayed the
// oldest acknowledged one: round after round every settlement behind it
// (and, in map order, of the providers after it) went past its status
// deadline unparked, with no parked copy to list or replay. Here the
// oldest carries a content type of 300 bytes in its metadata, which the
// publisher refuses to send as a property (a header spelled
// amqp_content_type no longer gets there since 0fe25bb; the test stands
// for any copy the publisher will not send); the settlement behind it
// must be parked all the same (real broker, judged from the parked queue).
func TestParkOverdueGoesOnPastASettlementItCannotPark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newScripted("holpark8", providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r, w, ch := unsendableAhead(ctx, t, p, broker.ParkedQueue(p.name), 5*time.Millisecond, 2*time.Hour, "req-bad")
	if s := r.get(t, "req-bad"); s.State != "acknowledged" {
		t.Fatalf("req-bad is %s, want acknowledged", s.State)
	}
	for round := 1; round <= 2; round++ {
		_, _ = w.Sweep(ctx)
	}
	if s := r.get(t, "req-good"); s.ParkedReason == "" {
		t.Errorf("req-good is past its status deadline but not parked after two rounds: the settlement ahead of it, whose parked copy cannot be sent, holds it back")
	}
	goodFirstIn(t, ch, broker.ParkedQueue(p.name), "parked queue", "parked copy")
}

// A settlement stuck in flight whose resumed request could not be sent
// (here a content type of 300 bytes in its metadata, refused by the
// publisher as a property: any copy it will not send) stopped the round's resume step, and waited forever in
// silence: the sweeper records its note before publishing, which restarts
// the age SettlementInFlightStuck reads (so it never stays past 1h for
// 15m), and only a published resume was counted (SettlementResumedBySweeper).
// Each failed resume must be counted (action "unresumed", alert
// SettlementNotResumed) and the settlements behind it resumed the same
// round (real broker, judged from the request queue).
func TestResumeThatCannotBeSentIsCountedAndDoesNotStopTheOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newScripted("holres8", providers.Facts{})
	p.settleErrs = []error{providers.NotSentError("503", "busy", nil), providers.NotSentError("503", "busy", nil)}
	// The retry messages are lost: unsendableAhead drops them.
	r, w, ch := unsendableAhead(ctx, t, p, broker.RequestQueue(p.name), 5*time.Millisecond, 2*time.Minute, "req-bad")
	w.Metrics = NewMetrics(prometheus.NewRegistry())
	rep, err := w.Sweep(ctx)
	if err == nil {
		t.Errorf("the failed resume was not reported")
	}
	if rep.Resumed != 1 {
		t.Errorf("resumed %d in the round, want 1 (req-good): the settlement ahead of it, whose request cannot be sent, stops the step", rep.Resumed)
	}
	if v := testutil.ToFloat64(w.Metrics.swept.WithLabelValues(p.name, string(r.get(t, "req-bad").State), "unresumed")); v != 1 {
		t.Errorf("settlement_swept_total{action=\"unresumed\"} = %v, want 1: the settlement waits in flight unseen by any alert", v)
	}
	goodFirstIn(t, ch, broker.RequestQueue(p.name), "request queue", "resumed request")
}

// parkOverdue read the oldest Batch acknowledged settlements past their
// deadline each round; one whose parked copy cannot be sent is never
// recorded as parked and stays the oldest, so Batch of them filled every
// round's read and every overdue settlement behind them went unparked
// for good. Here Batch is 2 (500 in a worker) and 3 such settlements are
// older than req-good: it must be parked within ceil(4/2) rounds (real
// broker, judged from the parked queue).
func TestParkOverdueBatchFullOfUnsendableCopiesDoesNotHoldBackTheOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newScripted("holpage8", providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r, w, ch := unsendableAhead(ctx, t, p, broker.ParkedQueue(p.name), 2*time.Millisecond, 2*time.Hour, "req-bad-0", "req-bad-1", "req-bad-2")
	w.Batch = 2
	for round := 1; round <= 2; round++ {
		_, _ = w.Sweep(ctx)
	}
	if s := r.get(t, "req-good"); s.ParkedReason == "" {
		t.Errorf("req-good is past its status deadline but not parked after two rounds: a batch of settlements ahead of it, whose parked copies cannot be sent, holds it back")
	}
	goodFirstIn(t, ch, broker.ParkedQueue(p.name), "parked queue", "parked copy")
}

// unsendableAhead declares p's topology on the test broker, with queue
// purged, and delivers to a rig of p the settlements named bad, in that
// order and gap apart, then req-good. Each bad one carries a content type
// of 300 bytes in its metadata, which the publisher refuses to send as a
// property (standing for any copy it will not send). What the pipeline
// published is dropped. It returns the rig, a sweeper later in time that
// publishes to the broker, and a channel to read queue with.
func unsendableAhead(ctx context.Context, t *testing.T, p *scripted, queue string, gap, later time.Duration, bad ...string) (*rig, *Sweeper, *amqp.Channel) {
	t.Helper()
	top := broker.Topology{Providers: []string{p.name}, RetryDelays: []time.Duration{time.Second}}
	pub, ch := onBroker(ctx, t, top, queue)
	r := newRig(t, p)
	for _, id := range bad {
		msg := requestMsg(t, id, messages.SettlementDebit, nil)
		msg.Metadata.Set(broker.MetaContentType, "application/xml; x="+strings.Repeat("a", 300))
		r.deliver(t, msg)
		time.Sleep(gap)
	}
	r.deliver(t, requestMsg(t, "req-good", messages.SettlementDebit, nil))
	r.pub.take()
	w := r.sweeper(later)
	w.Pub = pub
	return r, w, ch
}

// goodFirstIn checks that the first message in queue (named where in the
// failure) is req-good's: what, its parked copy or its resumed request.
func goodFirstIn(t *testing.T, ch *amqp.Channel, queue, where, what string) {
	t.Helper()
	d, ok, err := ch.Get(queue, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !strings.Contains(string(d.Body), "req-good") {
		t.Errorf("%s: got %v %q, want req-good's %s", where, ok, d.Body, what)
	}
}

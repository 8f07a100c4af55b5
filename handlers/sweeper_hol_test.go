package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
	const prov = "holpark8"
	top := broker.Topology{Providers: []string{prov}, RetryDelays: []time.Duration{time.Second}}
	pub, ch := onBroker(ctx, t, top, broker.ParkedQueue(prov))
	p := newScripted(prov, providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r := newRig(t, p)
	bad := requestMsg(t, "req-bad", messages.SettlementDebit, nil)
	bad.Metadata.Set(broker.MetaContentType, "application/xml; x="+strings.Repeat("a", 300))
	r.deliver(t, bad)
	time.Sleep(5 * time.Millisecond)
	r.deliver(t, requestMsg(t, "req-good", messages.SettlementDebit, nil))
	r.pub.take()
	if s := r.get(t, "req-bad"); s.State != "acknowledged" {
		t.Fatalf("req-bad is %s, want acknowledged", s.State)
	}
	w := r.sweeper(2 * time.Hour)
	w.Pub = pub
	for round := 1; round <= 2; round++ {
		_, _ = w.Sweep(ctx)
	}
	if s := r.get(t, "req-good"); s.ParkedReason == "" {
		t.Errorf("req-good is past its status deadline but not parked after two rounds: the settlement ahead of it, whose parked copy cannot be sent, holds it back")
	}
	d, ok, err := ch.Get(broker.ParkedQueue(prov), true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !strings.Contains(string(d.Body), "req-good") {
		t.Errorf("parked queue: got %v %q, want req-good's parked copy", ok, d.Body)
	}
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
	const prov = "holres8"
	top := broker.Topology{Providers: []string{prov}, RetryDelays: []time.Duration{time.Second}}
	pub, ch := onBroker(ctx, t, top, broker.RequestQueue(prov))
	p := newScripted(prov, providers.Facts{})
	p.settleErrs = []error{providers.NotSentError("503", "busy", nil), providers.NotSentError("503", "busy", nil)}
	r := newRig(t, p)
	bad := requestMsg(t, "req-bad", messages.SettlementDebit, nil)
	bad.Metadata.Set(broker.MetaContentType, "application/xml; x="+strings.Repeat("a", 300))
	r.deliver(t, bad)
	time.Sleep(5 * time.Millisecond)
	r.deliver(t, requestMsg(t, "req-good", messages.SettlementDebit, nil))
	r.pub.take() // the retry messages are lost
	w := r.sweeper(2 * time.Minute)
	w.Pub = pub
	w.Metrics = NewMetrics(prometheus.NewRegistry())
	rep, err := w.Sweep(ctx)
	if err == nil {
		t.Errorf("the failed resume was not reported")
	}
	if rep.Resumed != 1 {
		t.Errorf("resumed %d in the round, want 1 (req-good): the settlement ahead of it, whose request cannot be sent, stops the step", rep.Resumed)
	}
	if v := testutil.ToFloat64(w.Metrics.swept.WithLabelValues(prov, string(r.get(t, "req-bad").State), "unresumed")); v != 1 {
		t.Errorf("settlement_swept_total{action=\"unresumed\"} = %v, want 1: the settlement waits in flight unseen by any alert", v)
	}
	d, ok, err := ch.Get(broker.RequestQueue(prov), true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !strings.Contains(string(d.Body), "req-good") {
		t.Errorf("request queue: got %v %q, want req-good's resumed request", ok, d.Body)
	}
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
	const prov = "holpage8"
	top := broker.Topology{Providers: []string{prov}, RetryDelays: []time.Duration{time.Second}}
	pub, ch := onBroker(ctx, t, top, broker.ParkedQueue(prov))
	p := newScripted(prov, providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r := newRig(t, p)
	for i := range 3 {
		bad := requestMsg(t, fmt.Sprintf("req-bad-%d", i), messages.SettlementDebit, nil)
		bad.Metadata.Set(broker.MetaContentType, "application/xml; x="+strings.Repeat("a", 300))
		r.deliver(t, bad)
		time.Sleep(2 * time.Millisecond)
	}
	r.deliver(t, requestMsg(t, "req-good", messages.SettlementDebit, nil))
	r.pub.take()
	w := r.sweeper(2 * time.Hour)
	w.Pub = pub
	w.Batch = 2
	for round := 1; round <= 2; round++ {
		_, _ = w.Sweep(ctx)
	}
	if s := r.get(t, "req-good"); s.ParkedReason == "" {
		t.Errorf("req-good is past its status deadline but not parked after two rounds: a batch of settlements ahead of it, whose parked copies cannot be sent, holds it back")
	}
	d, ok, err := ch.Get(broker.ParkedQueue(prov), true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !strings.Contains(string(d.Body), "req-good") {
		t.Errorf("parked queue: got %v %q, want req-good's parked copy", ok, d.Body)
	}
}

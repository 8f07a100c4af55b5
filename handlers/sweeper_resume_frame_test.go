package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A settlement stuck in flight whose recorded request's headers nearly
// fill the broker's frame: its resumed copy, the sweeper's swept and
// ready-at headers added, can never be sent (broker.HeadersTooLargeError).
// The sweeper counted it unresumed and tried again every StuckAfter, for
// ever: it never ended parked with a reason, and no `parked ls` showed it.
// It must be parked once (a parked copy without the header that fills the
// frame, saying so), and left alone by later rounds (real broker, judged
// from the parked and request queues).
func TestResumeWhoseHeadersCannotBeSentIsParkedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newScripted("resframe8", providers.Facts{})
	p.settleErrs = []error{providers.NotSentError("503", "busy", nil)}
	top := broker.Topology{Providers: []string{p.name}, RetryDelays: []time.Duration{time.Second}}
	pub, ch := onBroker(ctx, t, top, broker.RequestQueue(p.name), broker.ParkedQueue(p.name))
	r := newRig(t, p)
	// Headers that leave 10 bytes of the frame free: the request as it
	// came fits, its resumed copy does not.
	msg := requestMsg(t, "req-frame", messages.SettlementDebit, map[string]string{"pad": "-"})
	b, _ := broker.Marshaler{}.Marshal(msg)
	msg.Metadata.Set("pad", strings.Repeat("a", broker.DefaultFrameMax-8-broker.HeaderFrameBytes(b)-10))
	r.deliver(t, msg)
	r.pub.take() // the retry message is lost
	if s := r.get(t, "req-frame"); s.ParkedReason != "" {
		t.Fatalf("parked before the sweep: %q", s.ParkedReason)
	}
	state := string(r.get(t, "req-frame").State)
	for round, later := range []time.Duration{2 * time.Minute, 4 * time.Minute, 6 * time.Minute} {
		w := r.sweeper(later)
		w.Pub = pub
		w.Metrics = NewMetrics(prometheus.NewRegistry())
		_, _ = w.Sweep(ctx)
		if v := testutil.ToFloat64(w.Metrics.swept.WithLabelValues(p.name, state, "unresumed")); round > 0 && v != 0 {
			t.Errorf("round %d: counted unresumed again (%v): the sweeper keeps trying a resume that can never be sent", round+1, v)
		}
	}
	s := r.get(t, "req-frame")
	if !strings.Contains(s.ParkedReason, "frame") {
		t.Errorf("settlement %s, parked reason %q: want it parked saying its resumed request does not fit a frame", s.State, s.ParkedReason)
	}
	d, ok, err := ch.Get(broker.ParkedQueue(p.name), true)
	if err != nil || !ok {
		t.Fatalf("nothing in the parked queue (%v): `parked ls` does not show it", err)
	}
	if !strings.Contains(string(d.Body), "req-frame") {
		t.Errorf("parked body %q", d.Body)
	}
	if reason, _ := d.Headers[HeaderParkedReason].(string); !strings.Contains(reason, "pad") {
		t.Errorf("parked reason %q does not name the header its copy could not carry", reason)
	}
	if _, ok, _ := ch.Get(broker.ParkedQueue(p.name), true); ok {
		t.Error("parked twice")
	}
	if _, ok, _ := ch.Get(broker.RequestQueue(p.name), true); ok {
		t.Error("a resumed request reached the request queue")
	}
}

package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A delivery that records its settlement's parking, then fails to publish
// the parked copy (the broker returns it unroutable, nacks it, a confirm
// that does not come), returns an error: the worker's router retries the
// handler in place (middleware.Retry), with the same message, which the
// broker has not redelivered. The retry found the settlement parked and
// took itself for a duplicate from the order system: "parked for a
// person, changes nothing", and the message was acked. The settlement was
// parked in the store with no copy in the parked queue: `parked ls` did
// not list it, `parked replay` could not move it, and the sweeper, which
// leaves parked settlements alone, never resumed it. The retry of the
// delivery that recorded the parking parks its copy again.
func TestParkingWhosePublishFailedIsParkedOnTheInPlaceRetry(t *testing.T) {
	busy := providers.TransientError("", "provider busy", nil)
	for _, tc := range []struct {
		name   string
		setup  func(r *rig)
		reason string
	}{
		{"retries exhausted", func(r *rig) {
			r.h.Retry.MaxAttempts = 1
			r.p.confirmErrs = []error{busy}
		}, "retries exhausted"},
		{"unresolved outcome", func(r *rig) {
			r.p.settleErrs = []error{providers.UnresolvedError("", "order 7 is ambiguous", nil)}
		}, "order 7 is ambiguous"},
		{"handler panic", func(r *rig) {
			// Recorded first (confirming, attempt 1), then the panic.
			r.p.confirmErrs = []error{busy}
			r.h.Retry.MaxAttempts = 5
		}, "handler panic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
			pub, ch := onBroker(ctx, t, top)
			r := newRig(t, newScripted("prov", providers.Facts{}))
			r.h.Pub, r.h.Retry.Delays = pub, top.RetryDelays
			tc.setup(r)
			msg := requestMsg(t, "req-1", messages.SettlementDebit, nil)
			if tc.name == "handler panic" {
				// A first delivery records the settlement, its retry
				// copy goes on; the copy's delivery panics.
				r.deliver(t, msg)
				msg = nextMessage(ctx, t, ch, broker.RetryQueue("prov", top.RetryDelays[0]))
				r.p.panicSettle = true
			}

			// The parked queue refuses the copy (gone: every publish to it
			// is returned unroutable) until the handler's first run failed.
			parked := broker.ParkedQueue("prov")
			if _, err := ch.QueueDelete(parked, false, false, false); err != nil {
				t.Fatal(err)
			}
			runs, err := deliverRetriedInPlace(ctx, t, r.h, pub, top, msg)
			if err != nil {
				t.Fatalf("the delivery failed after its in-place retries (%d runs): %v", runs, err)
			}
			if runs < 2 {
				t.Fatalf("the first run did not fail (%d runs): the parked queue took the copy", runs)
			}
			s := r.get(t, "req-1")
			if !strings.Contains(s.ParkedReason, tc.reason) {
				t.Fatalf("settlement parked reason %q, want %q (%s)", s.ParkedReason, tc.reason, s.State)
			}
			// Acked: the parked queue must hold the settlement.
			q, err := ch.QueueDeclarePassive(parked, true, false, false, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if q.Messages == 0 {
				t.Fatalf("the settlement is parked (%q) and its message was acked after %d runs, but the parked queue is empty: nothing to list or replay, and the sweeper leaves parked settlements alone", s.ParkedReason, runs)
			}
			d, ok, err := ch.Get(parked, true)
			if err != nil || !ok {
				t.Fatalf("get parked copy: %v %v", ok, err)
			}
			if got, _ := d.Headers[HeaderParkedReason].(string); !strings.Contains(got, tc.reason) {
				t.Errorf("parked copy's reason %q, want %q", got, tc.reason)
			}
			for k := range d.Headers {
				if k == broker.MetaParkingRecorded || strings.HasPrefix(k, "_") {
					t.Errorf("parked copy carries the pipeline's own metadata %q", k)
				}
			}
		})
	}
}

package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A settlement whose recorded status event is not a valid document (an
// older version's) was parked by the sweeper in the store only
// (store.ParkedInvalidEvent): no copy in the parked queue, so `parked ls`
// did not list it and ParkedGrowing's first step missed it; only the
// worker log and `show` named it. It must get one parked copy, listed
// with its reason, which tells the operator what to do (the order system
// has not received the verdict; a replay republishes nothing). A
// settlement an earlier version marked in the store only gets its copy
// too, once.
func TestInvalidRecordedEventIsParkedInTheParkedQueue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		marked string // the parked reason an earlier version recorded
	}{
		{"new", ""},
		{"marked by an earlier version", store.ParkedInvalidEvent + "request req: currency (got \"XYZ\")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, newScripted("miva", providers.Facts{}))
			req := testRequest()
			req.Amount.CurrencyCode = "XYZ"
			reason := "invalid request: XYZ"
			seedLegacy(t, r, req, nil, store.Change{DeclineReason: &reason}, invalidEvent(t, req), store.StateRefused)
			if tc.marked != "" {
				s := r.get(t, req.RequestID)
				if _, _, err := r.st.Transition(ctx, s.Key, nil, s.State, store.Change{ParkedReason: &tc.marked, Note: "invalid status event"}, nil); err != nil {
					t.Fatal(err)
				}
			}
			w := r.sweeper(time.Minute)
			var parked []string
			for round := 1; round <= 3; round++ {
				if rep, err := w.Sweep(ctx); err != nil || rep.Relayed != 0 {
					t.Fatalf("sweep %d: %+v, %v", round, rep, err)
				}
				for _, m := range r.pub.take() {
					if strings.HasPrefix(m.key, statusQ) {
						t.Errorf("an invalid recorded status was published:\n%s", m.msg.Payload)
					}
					if m.key == broker.ParkedQueue("miva") {
						if !strings.Contains(string(m.msg.Payload), req.RequestID) {
							t.Errorf("parked copy is not the request: %s", m.msg.Payload)
						}
						parked = append(parked, m.msg.Metadata.Get(HeaderParkedReason))
					}
				}
			}
			if len(parked) != 1 {
				t.Fatalf("%d parked copies in 3 rounds, want 1: `parked ls` must list it, once", len(parked))
			}
			if !strings.HasPrefix(parked[0], store.ParkedInvalidEvent) || !strings.Contains(parked[0], "by other means") {
				t.Errorf("parked reason %q: want %q and what to do", parked[0], store.ParkedInvalidEvent)
			}
			if s := r.get(t, req.RequestID); s.ParkedReason != parked[0] || s.State != store.StateRefused {
				t.Errorf("settlement %s, parked reason %q: want refused with the parked copy's reason", s.State, s.ParkedReason)
			}
		})
	}
}

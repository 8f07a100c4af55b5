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
			req := seedInvalidEvent(t, r)
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

// The reason of such a parked copy says a replay publishes nothing and
// parks it again: the replay cleared the settlement's parked reason, the
// republish failed (its event is not valid) and parked the replayed copy,
// and the next sweep, finding the settlement unmarked, parked ANOTHER
// copy: two copies in `parked ls` for one settlement, where the runbook
// describes one. A replay of it must end with exactly one parked copy and
// the settlement still marked, whatever the sweeps after it.
func TestReplayOfAnInvalidEventCopyLeavesOneParkedCopy(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, newScripted("miva", providers.Facts{}))
	req := seedInvalidEvent(t, r)
	w := r.sweeper(time.Minute)
	if _, err := w.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	parked := only(t, r.pub.take(), broker.ParkedQueue("miva"))
	marked := r.get(t, req.RequestID).ParkedReason

	// `parked replay` moves it to the request queue: the parked queue is
	// empty, the copy marked as a replay.
	replay := parked.Copy()
	for k := range replay.Metadata {
		if strings.HasPrefix(k, "parked_") {
			delete(replay.Metadata, k)
		}
	}
	replay.Metadata.Set(broker.HeaderReplayed, time.Now().UTC().Format(time.RFC3339))
	r.deliver(t, replay)
	var copies []string
	collect := func() {
		for _, m := range r.pub.take() {
			switch {
			case strings.HasPrefix(m.key, statusQ):
				t.Errorf("an invalid recorded status was published:\n%s", m.msg.Payload)
			case m.key == broker.ParkedQueue("miva"):
				copies = append(copies, m.msg.Metadata.Get(HeaderParkedReason))
			default:
				t.Errorf("published to %s", m.key)
			}
		}
	}
	collect()
	for round := 1; round <= 3; round++ {
		if _, err := w.Sweep(ctx); err != nil {
			t.Fatalf("sweep %d: %v", round, err)
		}
		collect()
	}
	if len(copies) != 1 {
		t.Fatalf("%d parked copies after the replay and 3 sweeps, want 1 (the replayed one, parked again): %q", len(copies), copies)
	}
	if copies[0] != marked {
		t.Errorf("the replayed copy was parked again with %q, want the settlement's reason %q", copies[0], marked)
	}
	if s := r.get(t, req.RequestID); s.ParkedReason != marked || s.State != store.StateRefused {
		t.Errorf("settlement %s, parked reason %q: want refused and still marked %q", s.State, s.ParkedReason, marked)
	}
}

// A settlement an older version recorded whose verdict no valid status can
// report (finish parks it, its verdict recorded without an event, "tell
// the order system by other means"): a replay of its parked copy cleared
// the parking, republished nothing (no event recorded), and acked the copy:
// the parked queue empty, the settlement no longer marked, and the order
// system never told, with nothing left to say so. A replay of it parks its
// copy again and leaves it marked, as for an invalid recorded event.
func TestReplayOfAVerdictWithoutValidStatusLeavesItParked(t *testing.T) {
	p := newScripted("miva", providers.Facts{})
	r := newRig(t, p)
	req := testRequest()
	msg := seedWithoutTenderType(t, r, req)
	r.deliver(t, msg)
	parked := only(t, r.pub.take(), broker.ParkedQueue("miva"))
	marked := r.get(t, req.RequestID)
	if marked.ParkedReason == "" {
		t.Fatalf("not parked (%s)", marked.State)
	}

	replay := parked.Copy()
	for k := range replay.Metadata {
		if strings.HasPrefix(k, "parked_") || strings.HasPrefix(k, "amqp_") || strings.HasPrefix(k, "_") || k == HeaderAttempt || k == HeaderLastError || k == HeaderPoll {
			delete(replay.Metadata, k)
		}
	}
	replay.Metadata.Set(broker.HeaderReplayed, time.Now().UTC().Format(time.RFC3339))
	r.deliver(t, replay)
	w := r.sweeper(time.Minute)
	for round := 1; round <= 2; round++ {
		if _, err := w.Sweep(context.Background()); err != nil {
			t.Fatalf("sweep %d: %v", round, err)
		}
	}
	var copies int
	for _, m := range r.pub.take() {
		switch {
		case strings.HasPrefix(m.key, statusQ):
			t.Errorf("an invalid status was published:\n%s", m.msg.Payload)
		case m.key == broker.ParkedQueue("miva"):
			copies++
		}
	}
	s := r.get(t, req.RequestID)
	if copies != 1 || s.ParkedReason != marked.ParkedReason || s.State != store.StateSettled {
		t.Fatalf("after a replay: %d parked copies (want 1), settlement %s parked %q (want settled, still %q)", copies, s.State, s.ParkedReason, marked.ParkedReason)
	}
	if settles, _, _ := p.counts(); settles != 1 {
		t.Errorf("provider settled %d times, want 1", settles)
	}
}

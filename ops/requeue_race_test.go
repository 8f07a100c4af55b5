package ops_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// TestReplayRightAfterListFindsTheMessage: parked ls puts the messages it
// read back with a basic.nack, which a quorum queue applies a moment
// later; a replay (or purge) started right after it measured the queue's
// depth before they were back and read nothing: a --request-id replay
// failed saying no parked message had that id, which is untrue, and a
// replay by --reason moved none of them and succeeded ("replayed 0 of
// 0"), the parked requests left behind in silence.
func TestReplayRightAfterListFindsTheMessage(t *testing.T) {
	f := newFixture(t, "")
	e := f.env()
	e.Providers = []string{"radial"}
	for i := range 30 {
		f.park("radial", "r1", "provider down", 6, 3*time.Hour)
		if err := ops.List(f.ctx, e, ops.Filter{}, false); err != nil {
			t.Fatal(err)
		}
		if err := ops.Replay(f.ctx, e, ops.Filter{RequestID: "r1"}, ops.ReplayOptions{}); err != nil {
			t.Fatalf("run %d: replay right after ls: %v\n%s", i, err, f.errOut)
		}
		f.depth(broker.RequestQueue("radial"), 1)
		f.ids(broker.RequestQueue("radial"))
	}
	for i := range 30 {
		f.park("radial", "r2", "provider down", 6, 3*time.Hour)
		f.park("radial", "r3", "provider down", 6, 3*time.Hour)
		if err := ops.List(f.ctx, e, ops.Filter{}, false); err != nil {
			t.Fatal(err)
		}
		if err := ops.Replay(f.ctx, e, ops.Filter{Reason: "provider down"}, ops.ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := f.ids(broker.RequestQueue("radial")); len(got) != 2 {
			t.Fatalf("run %d: replay by reason right after ls moved %v, want [r2 r3]\n%s", i, got, f.out)
		}
	}
}

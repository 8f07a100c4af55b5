package ops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// TestReplayOrPurgeOfAnUnparkedRequestIDFails: the runbook's "parked
// replay --request-id ID" (or purge) with a mistyped id, the wrong
// --provider, or run a second time after the first moved it, matched
// nothing, printed "replayed 0 of N" and exited 0: a person (or a script
// chained with &&) took it as done. A --request-id that matches no parked
// message now fails, naming the id and the queues read, and changes
// nothing (a purge asks nothing).
func TestReplayOrPurgeOfAnUnparkedRequestIDFails(t *testing.T) {
	f := newFixture(t, "")
	f.park("radial", "r1", "provider down", 6, 3*time.Hour)
	f.park("paysafe", "p1", "provider down", 6, 3*time.Hour)
	asked := false
	confirm := func(int) bool { asked = true; return true }
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"replay, wrong provider", func() error {
			return ops.Replay(f.ctx, f.env(), ops.Filter{Providers: []string{"paysafe"}, RequestID: "r1"}, ops.ReplayOptions{})
		}},
		{"replay, typo", func() error {
			return ops.Replay(f.ctx, f.env(), ops.Filter{RequestID: "r1x"}, ops.ReplayOptions{})
		}},
		{"replay dry run, typo", func() error {
			return ops.Replay(f.ctx, f.env(), ops.Filter{RequestID: "r1x"}, ops.ReplayOptions{DryRun: true})
		}},
		{"purge --yes, wrong provider", func() error {
			return ops.Purge(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}, RequestID: "p1"}, ops.PurgeOptions{})
		}},
		{"purge asking, typo", func() error {
			return ops.Purge(f.ctx, f.env(), ops.Filter{RequestID: "p1x"}, ops.PurgeOptions{Confirm: confirm})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.reset()
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), "no parked message has request id") {
				t.Errorf("err = %v, want one saying no parked message has the request id\n%s", err, f.out)
			}
			f.depth(broker.ParkedQueue("radial"), 1)
			f.depth(broker.ParkedQueue("paysafe"), 1)
			f.depth(broker.RequestQueue("radial"), 0)
			f.depth(broker.RequestQueue("paysafe"), 0)
		})
	}
	if asked {
		t.Errorf("purge asked to delete messages none of which has the request id")
	}
	// The right id still works.
	f.reset()
	if err := ops.Replay(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}, RequestID: "r1"}, ops.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	f.depth(broker.RequestQueue("radial"), 1)
	// Run twice: the second says it found nothing to replay.
	f.reset()
	if err := ops.Replay(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}, RequestID: "r1"}, ops.ReplayOptions{}); err == nil {
		t.Errorf("a second replay of r1 succeeded:\n%s", f.out)
	}
	f.depth(broker.RequestQueue("radial"), 1)
}

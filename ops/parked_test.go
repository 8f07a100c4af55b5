package ops_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// parkFour parks r1..r3 for radial and p1 for paysafe.
func parkFour(f *fixture) {
	f.park("radial", "r1", "provider down: 503", 6, 3*time.Hour)
	f.park("radial", "r2", "outcome unknown: ask Radial", 2, 30*time.Minute)
	f.park("radial", "r3", "Provider Down: timeout", 6, 2*time.Hour)
	f.park("paysafe", "p1", "provider down", 6, 26*time.Hour)
}

// parked ls reads every parked message, from every provider, with the
// filters, and leaves the queues exactly as they were.
func TestListKeepsMessagesInOrder(t *testing.T) {
	f := newFixture(t, "")
	parkFour(f)
	// A message the broker dead-lettered at the delivery limit: no
	// parked_* headers, an x-death.
	f.publish("", broker.ParkedQueue("radial"), amqp.Publishing{MessageId: "msg-r4", ContentType: "application/json",
		Body: requestJSON("r4", "O-r4"), Headers: amqp.Table{"x-death": []any{amqp.Table{
			"reason": "delivery_limit", "queue": broker.RequestQueue("radial"), "time": now.Add(-time.Hour), "count": int64(1)}}}})

	for _, tc := range []struct {
		name   string
		filter ops.Filter
		want   string
	}{
		{"all", ops.Filter{}, "[r1 r2 r3 r4 p1]"},
		{"provider", ops.Filter{Providers: []string{"paysafe"}}, "[p1]"},
		{"reason ignores case", ops.Filter{Reason: "provider DOWN"}, "[r1 r3 p1]"},
		{"request id", ops.Filter{RequestID: "r2"}, "[r2]"},
		{"message id", ops.Filter{RequestID: "msg-r3"}, "[r3]"},
		{"older than", ops.Filter{OlderThan: 90 * time.Minute}, "[r1 r3 p1]"},
		{"dead-lettered", ops.Filter{Reason: "delivery_limit"}, "[r4]"},
		{"none", ops.Filter{Reason: "no such reason"}, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.reset()
			if err := ops.List(f.ctx, f.env(), tc.filter, true); err != nil {
				t.Fatal(err)
			}
			var got []ops.ParkedMessage
			if err := json.Unmarshal([]byte(f.out.String()), &got); err != nil {
				t.Fatalf("JSON output: %v\n%s", err, f.out)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.RequestID)
			}
			if fmt.Sprint(ids) != tc.want {
				t.Errorf("ids %v, want %s", ids, tc.want)
			}
			f.depth(broker.ParkedQueue("radial"), 4)
			f.depth(broker.ParkedQueue("paysafe"), 1)
		})
	}

	f.reset()
	if err := ops.List(f.ctx, f.env(), ops.Filter{}, false); err != nil {
		t.Fatal(err)
	}
	out := f.out.String()
	for _, want := range []string{
		"PROVIDER", "radial  ", "r1", "O-r1", "provider down: 503", "2026-03-04T02:00:00Z", "3h00m",
		"dead-lettered by the broker (delivery_limit)", "paysafe", "26h00m", "5 of 5 parked message(s) match, in 2 queue(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, pan) || strings.Contains(out, "0008") {
		t.Errorf("the listing shows the card number:\n%s", out)
	}
	// Listed five times, still in order.
	if got := f.ids(broker.ParkedQueue("radial")); fmt.Sprint(got) != "[r1 r2 r3 r4]" {
		t.Fatalf("radial parked queue after listing: %v", got)
	}
}

// A provider the broker never served is a note, not a failure.
func TestListMissingQueue(t *testing.T) {
	f := newFixture(t, "")
	e := f.env()
	e.Providers = []string{"radial", "frisbii"}
	if err := ops.List(f.ctx, e, ops.Filter{}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.errOut.String(), "no parked queue for frisbii") || !strings.Contains(f.out.String(), "0 of 0 parked message(s) match, in 1 queue(s)") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", f.out, f.errOut)
	}
}

type progress struct {
	label      string
	total, set int
	finished   bool
}

func (p *progress) Set(n int) { p.set = n }
func (p *progress) Finish()   { p.finished = true }

// parked replay moves the matching messages only, bounded by --limit over
// all providers; the others stay parked in their order. A dry run moves
// nothing.
func TestReplayFiltered(t *testing.T) {
	f := newFixture(t, "")
	parkFour(f)
	var bars []*progress
	e := f.env()
	e.Progress = func(label string, total int) ops.Progress {
		p := &progress{label: label, total: total}
		bars = append(bars, p)
		return p
	}
	filter := ops.Filter{Reason: "provider down"}

	if err := ops.Replay(f.ctx, e, filter, ops.ReplayOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	out := f.out.String()
	for _, want := range []string{"radial\tr1\torder=O-r1", "would replay 2 of 3 parked message(s) from " + broker.ParkedQueue("radial"),
		"paysafe\tp1", "would replay 1 of 1", "-> " + broker.RequestQueue("radial")} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if len(bars) != 0 {
		t.Errorf("a dry run showed progress bars")
	}
	f.depth(broker.ParkedQueue("radial"), 3)
	f.depth(broker.RequestQueue("radial"), 0)

	f.reset()
	if err := ops.Replay(f.ctx, e, filter, ops.ReplayOptions{Limit: 2}); err != nil {
		t.Fatal(err)
	}
	if out := f.out.String(); !strings.Contains(out, "replayed 2 of 3 parked message(s) from "+broker.ParkedQueue("radial")) || strings.Contains(out, "paysafe") {
		t.Errorf("replay --limit 2 output:\n%s", out)
	}
	if len(bars) != 1 || bars[0].label != "radial" || bars[0].total != 3 || bars[0].set != 3 || !bars[0].finished {
		t.Errorf("progress bars %+v, want one for radial, 3 of 3, finished", bars[0])
	}
	f.depth(broker.RequestQueue("radial"), 2)
	if got := f.ids(broker.RequestQueue("radial")); fmt.Sprint(got) != "[r1 r3]" {
		t.Errorf("replayed %v, want [r1 r3]", got)
	}
	if got := f.ids(broker.ParkedQueue("radial")); fmt.Sprint(got) != "[r2]" {
		t.Errorf("radial parked left %v, want [r2]", got)
	}
	f.depth(broker.ParkedQueue("paysafe"), 1)
}

// parked purge deletes the matching messages only; with a confirmation,
// nothing until it says yes, and no more than it was shown.
func TestPurge(t *testing.T) {
	f := newFixture(t, "")
	parkFour(f)
	filter := ops.Filter{Providers: []string{"radial"}, OlderThan: time.Hour}
	asked := 0
	no := func(n int) bool { asked = n; return false }
	if err := ops.Purge(f.ctx, f.env(), filter, ops.PurgeOptions{Confirm: no}); err != nil {
		t.Fatal(err)
	}
	if asked != 2 || !strings.Contains(f.out.String(), "would purge 2 of 3") || !strings.Contains(f.out.String(), "nothing deleted") {
		t.Fatalf("asked about %d; output:\n%s", asked, f.out)
	}
	f.depth(broker.ParkedQueue("radial"), 3)

	// Yes: but a matching message parked after the question is kept.
	f.reset()
	yes := func(n int) bool { f.park("radial", "r9", "provider down", 1, 5*time.Hour); asked = n; return true }
	if err := ops.Purge(f.ctx, f.env(), filter, ops.PurgeOptions{Confirm: yes}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.out.String(), "purged 2 of 4 parked message(s)") {
		t.Fatalf("output:\n%s", f.out)
	}
	if got := f.ids(broker.ParkedQueue("radial")); fmt.Sprint(got) != "[r2 r9]" {
		t.Errorf("left parked %v, want [r2 r9]", got)
	}
	f.depth(broker.RequestQueue("radial"), 0)

	// Without a confirmation (--yes), at once.
	f.reset()
	if err := ops.Purge(f.ctx, f.env(), ops.Filter{RequestID: "p1"}, ops.PurgeOptions{}); err != nil {
		t.Fatal(err)
	}
	f.depth(broker.ParkedQueue("paysafe"), 0)
}

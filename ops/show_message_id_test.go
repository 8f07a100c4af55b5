package ops_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestShowByTheMessageIDTheRelayNames: the sweeper's "sweep failed"
// warning for a verdict the broker refuses to relay names the event's
// MESSAGE_ID only (relay MESSAGE_ID: …, a UUID); the runbook's next step is
// show, which read request ids only, so the engineer could not find the
// settlement, its store (the routing key to bind) or its order.
func TestShowByTheMessageIDTheRelayNames(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b.dsn(t))
			f.register("radial", "r1")
			f.register("paysafe", "r2")
			ev := f.move("radial", "r1", store.StateSettled, store.Change{Note: "settled"},
				&store.StatusEvent{SettlementStatus: "S", Body: statusBody(t, "S", "")})
			f.move("paysafe", "r2", store.StateSettled, store.Change{Note: "settled"},
				&store.StatusEvent{SettlementStatus: "S", Body: statusBody(t, "S", "")})

			if err := ops.Show(f.ctx, f.env(), ev.MessageID, nil, false); err != nil {
				t.Fatalf("show %s (the message id the relay names): %v", ev.MessageID, err)
			}
			out := f.out.String()
			for _, want := range []string{"status event #1 of request r1", "settlement r1 (provider radial)", "S1 / O-r1",
				"message_id " + ev.MessageID, "NOT PUBLISHED"} {
				if !strings.Contains(out, want) {
					t.Errorf("show lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "r2") {
				t.Errorf("show printed another settlement:\n%s", out)
			}
		})
	}
}

// TestShowSaysAnInvalidEventIsNeverRelayed: the sweeper parks a settlement
// whose recorded status is not a valid document and never relays it; show
// said of that event "NOT PUBLISHED yet (the sweeper relays it)", and the
// engineer waited for a relay that never comes.
func TestShowSaysAnInvalidEventIsNeverRelayed(t *testing.T) {
	f := newFixture(t, "")
	f.register("radial", "r1")
	f.move("radial", "r1", store.StateSettled, store.Change{Note: "settled"}, &store.StatusEvent{SettlementStatus: "S", Body: []byte("<x/>")})
	reason := "recorded status event not relayed: no PaymentSettlementStatus published for request r1: the status would not be valid against Radial's schema (…)"
	f.move("radial", "r1", store.StateSettled, store.Change{ParkedReason: &reason, Note: "invalid status event"}, nil)
	if err := ops.Show(f.ctx, f.env(), "r1", nil, false); err != nil {
		t.Fatal(err)
	}
	out := f.out.String()
	if strings.Contains(out, "the sweeper relays it") || !strings.Contains(out, "NOT PUBLISHED: never relayed") {
		t.Errorf("show of an event the sweeper never relays:\n%s", out)
	}
}

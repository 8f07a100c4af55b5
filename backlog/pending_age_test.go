package backlog

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/settlement-worker/settlement-worker/store"
)

// A settlement pending at its provider is recorded as still pending every
// STUCK_AFTER/2 by its live poll loop (and was republished by the sweeper
// every STUCK_AFTER before that), so its updated_at never grows old and
// settlement_oldest_seconds{state="pending"} never passed the 25h of the
// SettlementPendingStuck alert: the alert could not fire. The age since
// registration (settlement_oldest_registered_seconds) does grow; parked
// settlements are left out, as for settlement_oldest_seconds.
func TestCollectorOldestRegisteredSeesALongPendingSettlement(t *testing.T) {
	f := newFixture(t)
	f.settlement("acme", "p1", t0, store.StatePending, "")
	f.settlement("acme", "p2", t0, store.StatePending, "deadline passed")
	touch := t0.Add(26 * time.Hour)
	f.clock.set(touch)
	if _, _, err := f.st.Transition(f.ctx, store.Key{Provider: "acme", RequestID: "p1"}, []store.State{store.StatePending}, store.StatePending,
		store.Change{Note: "still pending at provider"}, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.set(touch.Add(time.Minute))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.collector(Config{}))
	if v := gauge(t, reg, "settlement_oldest_seconds", `provider="acme",state="pending"`); v != 60 {
		t.Fatalf("settlement_oldest_seconds pending: %v, want 60 (since the poll recorded it)", v)
	}
	want := (26*time.Hour + time.Minute).Seconds()
	if v := gauge(t, reg, "settlement_oldest_registered_seconds", `provider="acme",state="pending"`); v != want {
		t.Fatalf("settlement_oldest_registered_seconds pending: %v, want %v", v, want)
	}
	if v := gauge(t, reg, "settlement_oldest_registered_seconds", `provider="beta",state="pending"`); v != 0 {
		t.Fatalf("no pending settlement for beta: %v, want 0", v)
	}
}

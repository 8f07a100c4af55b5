package frisbii

import (
	"net/http"
	"testing"
	"time"
)

// TestKeyLifetime: with Config.KeyLifetime, a settle or refund key is
// replayed until that long after it was recorded, then forgotten: the same
// call is new and moves money again. Without it keys are kept for ever.
func TestKeyLifetime(t *testing.T) {
	for _, lifetime := range []time.Duration{0, time.Hour} {
		clk := &clock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
		sb, srv := newTestSandbox(t, Config{Now: clk.Now, KeyLifetime: lifetime})
		seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
		seed(t, sb, ChargeSeed{Handle: "o-2", Amount: 10000, State: StateSettled})
		refund := func() Refund {
			return mustRefund(t, call(t, srv, http.MethodPost, "/frisbii/v1/refund", testKey,
				map[string]any{"invoice": "o-2", "key": "r", "amount": 1000}))
		}
		mustCharge(t, settle(t, srv, "o-1", keyed("k", 1000)))
		first := refund()
		clk.Add(59 * time.Minute)
		mustCharge(t, settle(t, srv, "o-1", keyed("k", 1000)))
		if again := refund(); again.ID != first.ID {
			t.Fatalf("lifetime %s: refund replayed as %s, want %s", lifetime, again.ID, first.ID)
		}
		clk.Add(time.Minute)
		mustCharge(t, settle(t, srv, "o-1", keyed("k", 1000)))
		again := refund()
		ci, _ := sb.ChargeInfo("o-1")
		ri, _ := sb.ChargeInfo("o-2")
		want, sameRefund := int64(1000), true
		if lifetime > 0 {
			want, sameRefund = 2000, false
		}
		if ci.SettledAmount != want || ri.RefundedAmount != want || (again.ID == first.ID) != sameRefund {
			t.Fatalf("lifetime %s: settled %d, refunded %d (refund %s, first %s); want %d each", lifetime, ci.SettledAmount, ri.RefundedAmount, again.ID, first.ID, want)
		}
	}
	if _, err := NewSandbox(Config{KeyLifetime: -time.Second}); err == nil {
		t.Fatal("a negative key lifetime is accepted")
	}
}

// TestScriptsAfter: a decline or refund script with After leaves the
// first After calls as they are.
func TestScriptsAfter(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000, Decline: &Decline{ErrorState: ErrorStateHardDeclined, After: 1, Count: 1}})
	seed(t, sb, ChargeSeed{Handle: "o-2", Amount: 10000, State: StateSettled,
		Refund: &RefundScript{State: RefundFailed, ErrorState: ErrorStateHardDeclined, After: 1, Count: 1}})
	states := func(ch Charge) string { return ch.ErrorState }
	if got := states(mustCharge(t, settle(t, srv, "o-1", keyed("a", 1000)))); got != "" {
		t.Fatalf("first settle error_state %q", got)
	}
	if got := states(mustCharge(t, settle(t, srv, "o-1", keyed("b", 1000)))); got != ErrorStateHardDeclined {
		t.Fatalf("second settle error_state %q", got)
	}
	if got := states(mustCharge(t, settle(t, srv, "o-1", keyed("c", 1000)))); got != "" {
		t.Fatalf("third settle error_state %q", got)
	}
	for i, want := range []string{RefundRefunded, RefundFailed, RefundRefunded} {
		rf := mustRefund(t, call(t, srv, http.MethodPost, "/frisbii/v1/refund", testKey,
			map[string]any{"invoice": "o-2", "key": string(rune('a' + i)), "amount": 1000}))
		if rf.State != want {
			t.Fatalf("refund %d state %q, want %q", i+1, rf.State, want)
		}
	}
	if err := (ChargeSeed{Handle: "o-3", Amount: 1, Currency: "USD", Decline: &Decline{ErrorState: ErrorStateSoftDeclined, After: -1}}).Validate(); err == nil {
		t.Fatal("a negative after is accepted")
	}
}

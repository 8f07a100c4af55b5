package frisbii_test

import (
	"context"
	"maps"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/store"
)

// refKeyFirstUsed is the ref that records when the request's idempotency
// key was (or was about to be) first sent to Frisbii.
const refKeyFirstUsed = frisbii.RefKeyFirstUsed

// newEnvForgetting is newEnv with a sandbox that forgets idempotency keys
// lifetime after it recorded them (sandbox.Config.KeyLifetime).
func newEnvForgetting(t *testing.T, lifetime time.Duration) *env {
	t.Helper()
	clk := &clock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	sb, err := sandbox.NewSandbox(sandbox.Config{Prefix: "/frisbii", APIKey: apiKey, Now: clk.Now, RandSeed: 1, KeyLifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() })
	return &env{sb: sb, srv: srv, clock: clk, client: newClient(t, srv.URL+"/frisbii", apiKey)}
}

// usedAgo returns refs whose key first use is d ago.
func usedAgo(refs map[string]string, d time.Duration) map[string]string {
	out := maps.Clone(refs)
	if out == nil {
		out = map[string]string{}
	}
	out[refKeyFirstUsed] = time.Now().Add(-d).UTC().Format(time.RFC3339Nano)
	return out
}

func ledgerOf(e *env, kind, key string) []sandbox.Entry {
	return e.sb.LedgerFiltered(sandbox.LedgerFilter{Handle: "O1", Key: key, Kind: kind})
}

// TestRepeatPastTheKeyLifetimeMovesNoMoneyTwice: Frisbii committed a
// settle (refund) whose reply was lost, and the repeat with the same key
// comes after Frisbii stopped holding the key (seed 002 gives no lifetime;
// the sandbox forgets keys after KeyLifetime). The repeat is then a new
// call: it captured (refunded) a second time and was reported S, or, with
// too little left, was refused (102, 65) and reported R while the first
// call's money had moved. A repeat whose key was first used longer ago than
// the client's KeyLifetime is not sent: it is parked (Unresolved).
func TestRepeatPastTheKeyLifetimeMovesNoMoneyTwice(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	debitRepeat := func(t *testing.T, e *env, amount string, after time.Duration) (providers.Outcome, error) {
		t.Helper()
		a := debit("A", "O1", amount)
		cr, err := e.client.ConfirmFunds(ctx, a)
		if err != nil || !cr.Available {
			t.Fatalf("confirm = %+v, %v", cr, err)
		}
		a.Refs = cr.Refs
		e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
		if _, err := e.client.Settle(ctx, a); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("first = %v", err)
		}
		e.clock.Add(after)
		a.Attempt, a.Refs = 2, usedAgo(cr.Refs, after)
		out, _, err := e.client.Reconcile(ctx, a)
		return out, err
	}
	creditRepeat := func(t *testing.T, e *env, amount string, after time.Duration) (providers.Outcome, error) {
		t.Helper()
		r := credit("R", "O1", amount)
		r.Refs = usedAgo(nil, 0)
		e.faults(t, sandbox.EndpointRefund, sandbox.Faults{DropNext: 1})
		if _, err := e.client.Settle(ctx, r); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("first = %v", err)
		}
		e.clock.Add(after)
		r.Attempt, r.Refs = 2, usedAgo(nil, after)
		out, _, err := e.client.Reconcile(ctx, r)
		return out, err
	}
	t.Run("debit with room left: no second capture", func(t *testing.T) {
		e := newEnvForgetting(t, day)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		out, err := debitRepeat(t, e, "40.00", day+time.Hour)
		if n := len(ledgerOf(e, sandbox.EntrySettle, "A")); n != 1 || e.settled(t, "O1") != 4000 {
			t.Fatalf("outcome %+v, %v: %d settles under key A, %d settled; want one capture of 4000", out, err, n, e.settled(t, "O1"))
		}
		checkErr(t, err, providers.Unresolved, "", "Frisbii admin")
	})
	t.Run("debit refused 102 after the key was forgotten: not R", func(t *testing.T) {
		e := newEnvForgetting(t, day)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		out, err := debitRepeat(t, e, "60.00", day+time.Hour)
		if out.Kind == providers.Refused || providers.ClassOf(err) == providers.Permanent {
			t.Fatalf("outcome %+v, %v: R, though A's 6000 settled (ledger %+v)", out, err, ledgerOf(e, sandbox.EntrySettle, "A"))
		}
		checkErr(t, err, providers.Unresolved, "", "Frisbii admin")
		if e.settled(t, "O1") != 6000 {
			t.Fatalf("settled %d", e.settled(t, "O1"))
		}
	})
	t.Run("credit with room left: no second refund", func(t *testing.T) {
		e := newEnvForgetting(t, day)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		out, err := creditRepeat(t, e, "40.00", day+time.Hour)
		if n := len(ledgerOf(e, sandbox.EntryRefund, "R")); n != 1 || refunded(t, e, "O1") != 4000 {
			t.Fatalf("outcome %+v, %v: %d refunds under key R, %d refunded; want one refund of 4000", out, err, n, refunded(t, e, "O1"))
		}
		checkErr(t, err, providers.Unresolved, "", "Frisbii admin")
	})
	t.Run("credit refused 65 after the key was forgotten: not R", func(t *testing.T) {
		e := newEnvForgetting(t, day)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		out, err := creditRepeat(t, e, "60.00", day+time.Hour)
		if out.Kind == providers.Refused || providers.ClassOf(err) == providers.Permanent {
			t.Fatalf("outcome %+v, %v: R, though R's 6000 was refunded", out, err)
		}
		checkErr(t, err, providers.Unresolved, "", "Frisbii admin")
		if refunded(t, e, "O1") != 6000 {
			t.Fatalf("refunded %d", refunded(t, e, "O1"))
		}
	})
	t.Run("within the lifetime the repeat replays the first call", func(t *testing.T) {
		e := newEnvForgetting(t, day)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		out, err := debitRepeat(t, e, "40.00", time.Hour)
		if err != nil || out.Kind != providers.Settled || e.settled(t, "O1") != 4000 {
			t.Fatalf("outcome %+v, %v, settled %d", out, err, e.settled(t, "O1"))
		}
	})
}

// TestPipelineRepeatPastTheKeyLifetimeIsParked runs the handler: the
// first call's reply is lost, and the retry comes after the key's lifetime
// (the recorded first use is moved back a day and an hour, and the
// sandbox, which forgets keys after a day, is moved on as much). The retry
// is parked with no status published, and Frisbii's ledger holds the one
// capture (refund). Within the lifetime the same retry ends S.
func TestPipelineRepeatPastTheKeyLifetimeIsParked(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name, typ string
		seed      sandbox.ChargeSeed
		ep        sandbox.Endpoint
		kind      string
		after     time.Duration
		parked    bool
	}{
		{"debit past the lifetime", messages.SettlementDebit, sandbox.ChargeSeed{Handle: "O1", Amount: 10000}, sandbox.EndpointSettle, sandbox.EntrySettle, day + time.Hour, true},
		{"credit past the lifetime", messages.SettlementCredit, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled}, sandbox.EndpointRefund, sandbox.EntryRefund, day + time.Hour, true},
		{"debit within the lifetime", messages.SettlementDebit, sandbox.ChargeSeed{Handle: "O1", Amount: 10000}, sandbox.EndpointSettle, sandbox.EntrySettle, time.Hour, false},
		{"credit within the lifetime", messages.SettlementCredit, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled}, sandbox.EndpointRefund, sandbox.EntryRefund, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvForgetting(t, day)
			e.seed(t, tc.seed)
			h, rec := pipeline(t, e)
			e.faults(t, tc.ep, sandbox.Faults{DropNext: 1})
			if err := h.Handle(requestMessage(t, "k1", "O1", tc.typ, "40.00")); err != nil {
				t.Fatal(err)
			}
			retry := rec.last(t, handlers.HeaderAttempt)
			key := store.Key{Provider: frisbii.Name, RequestID: "k1"}
			s, err := h.Store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			first, err := time.Parse(time.RFC3339Nano, s.Refs[frisbii.RefKeyFirstUsed])
			if err != nil || time.Since(first) > time.Minute {
				t.Fatalf("recorded first use %q: %v", s.Refs[frisbii.RefKeyFirstUsed], err)
			}
			if _, _, err := h.Store.Transition(ctx, key, []store.State{s.State}, s.State,
				store.Change{Refs: usedAgo(nil, tc.after), Note: "test: a day passes"}, nil); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(tc.after)
			if err := h.Handle(retry); err != nil {
				t.Fatal(err)
			}
			if es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: tc.kind, Key: "k1"}); len(es) != 1 || es[0].Amount != 4000 {
				t.Fatalf("ledger = %+v, want one entry of 4000", es)
			}
			s, err = h.Store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.parked {
				if s.State != store.StateSettled {
					t.Fatalf("state %s (parked %q), want settled", s.State, s.ParkedReason)
				}
				return
			}
			if s.State != store.StateSubmitting || !strings.Contains(s.ParkedReason, "FRISBII_KEY_LIFETIME") {
				t.Fatalf("state %s, parked %q; want parked for the key's lifetime", s.State, s.ParkedReason)
			}
			for _, p := range rec.msgs {
				if p.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
					t.Fatalf("published a status: %+v", statusOf(t, p.msg))
				}
			}
		})
	}
}

// TestKeyLifetimeMustExceedTheSettleWindow: a lifetime within the settle
// window would park every reconciliation.
func TestKeyLifetimeMustExceedTheSettleWindow(t *testing.T) {
	cfg := frisbii.Config{BaseURL: "http://127.0.0.1:1/frisbii", APIKey: apiKey, SettleWindow: time.Hour, KeyLifetime: time.Hour}
	if _, err := frisbii.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "KeyLifetime") {
		t.Fatalf("New = %v, want a KeyLifetime error", err)
	}
	cfg.KeyLifetime = 0
	if _, err := frisbii.New(cfg, nil); err != nil {
		t.Fatalf("default lifetime: %v", err)
	}
}

// TestRepeatPastTheKeyLifetimeWithNothingSettledIsSent: past the key's
// lifetime, a debit whose charge shows no more settled than when funds
// were confirmed (its earlier call moved nothing: HTTP 500 before acting)
// is sent: the one capture. One that does show more is parked (see
// TestRepeatPastTheKeyLifetimeMovesNoMoneyTwice).
func TestRepeatPastTheKeyLifetimeWithNothingSettledIsSent(t *testing.T) {
	ctx := context.Background()
	e := newEnvForgetting(t, 24*time.Hour)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	a := debit("A", "O1", "40.00")
	cr, err := e.client.ConfirmFunds(ctx, a)
	if err != nil || !cr.Available {
		t.Fatalf("confirm = %+v, %v", cr, err)
	}
	a.Refs = cr.Refs
	e.faults(t, sandbox.EndpointSettle, sandbox.Faults{FailNext: 1, FailStatus: 500})
	if _, err := e.client.Settle(ctx, a); providers.ClassOf(err) != providers.Transient {
		t.Fatalf("first = %v", err)
	}
	e.clock.Add(25 * time.Hour)
	a.Attempt, a.Refs = 2, usedAgo(cr.Refs, 25*time.Hour)
	out, _, err := e.client.Reconcile(ctx, a)
	if err != nil || out.Kind != providers.Settled || e.settled(t, "O1") != 4000 {
		t.Fatalf("Reconcile = %+v, %v; settled %d", out, err, e.settled(t, "O1"))
	}
}

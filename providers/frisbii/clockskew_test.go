package frisbii_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestKeyLifetimeIsCountedOnTheReplicasSharedClock: two replicas on one
// PostgreSQL database, A's clock 10 minutes ahead of B's (and of the
// database's). A confirms (a debit) or prepares (a credit) the request,
// recording when its idempotency key is first used, and its call commits
// at Frisbii with the reply lost. A day and 5 minutes later (the recorded
// first use is moved back as much, and the sandbox, which forgets keys
// after a day, is moved on as much) B runs the retry. FRISBII_KEY_LIFETIME
// was counted on each replica's own clock: A's record, 10 minutes in the
// future, made the key look 23h55m old to B, which sent the repeat; the
// sandbox no longer held the key and took it for a new call: two captures
// (refunds) of 40.00 in its ledger, S reported. The key's first use is
// recorded, and its age counted, on the clock the replicas share (the
// pipeline's: the host's corrected to PostgreSQL's), so B parks the
// request, as a single replica does.
func TestKeyLifetimeIsCountedOnTheReplicasSharedClock(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name, typ string
		seed      sandbox.ChargeSeed
		ep        sandbox.Endpoint
		kind      string
	}{
		{"debit", messages.SettlementDebit, sandbox.ChargeSeed{Handle: "O1", Amount: 10000}, sandbox.EndpointSettle, sandbox.EntrySettle},
		{"credit", messages.SettlementCredit, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled}, sandbox.EndpointRefund, sandbox.EntryRefund},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvForgetting(t, day)
			e.seed(t, tc.seed)
			dsn := testenv.PostgresDSN(t)
			replica := func(skew time.Duration) (*handlers.Settlement, *recorder) {
				now := func() time.Time { return time.Now().Add(skew) }
				c := newClient(t, e.srv.URL+"/frisbii", apiKey)
				frisbii.SetHostClock(c, now)
				rec := &recorder{}
				h := providertest.Replica(t, dsn, c, rec, 2*time.Second)
				h.Now = now
				return h, rec
			}
			a, aRec := replica(10 * time.Minute)
			b, bRec := replica(0)

			e.faults(t, tc.ep, sandbox.Faults{DropNext: 1})
			if err := a.Handle(requestMessage(t, "k1", "O1", tc.typ, "40.00")); err != nil {
				t.Fatalf("A: %v", err)
			}
			retry := aRec.last(t, handlers.HeaderAttempt)

			// A day and 5 minutes pass.
			const after = day + 5*time.Minute
			key := store.Key{Provider: frisbii.Name, RequestID: "k1"}
			s, err := b.Store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			first, err := time.Parse(time.RFC3339Nano, s.Refs[frisbii.RefKeyFirstUsed])
			if err != nil {
				t.Fatalf("recorded first use %q: %v", s.Refs[frisbii.RefKeyFirstUsed], err)
			}
			moved := map[string]string{frisbii.RefKeyFirstUsed: first.Add(-after).UTC().Format(time.RFC3339Nano)}
			if _, _, err := b.Store.Transition(ctx, key, []store.State{s.State}, s.State,
				store.Change{Refs: moved, Note: "test: a day passes"}, nil); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(after)

			if err := b.Handle(retry); err != nil {
				t.Fatalf("B: %v", err)
			}
			if es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: tc.kind, Key: "k1"}); len(es) != 1 || es[0].Amount != 4000 {
				t.Fatalf("the sandbox holds %d %s entries under key k1: %+v; want one of 4000", len(es), tc.kind, es)
			}
			s, err = b.Store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if s.State != store.StateSubmitting || !strings.Contains(s.ParkedReason, "FRISBII_KEY_LIFETIME") {
				t.Fatalf("state %s, parked %q; want parked for the key's lifetime", s.State, s.ParkedReason)
			}
			for _, p := range bRec.msgs {
				if p.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
					t.Fatalf("B published a status: %+v", statusOf(t, p.msg))
				}
			}
		})
	}
}

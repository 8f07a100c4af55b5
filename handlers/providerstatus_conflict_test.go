package handlers

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// A Radial status carrying one of our correlation ids but another StoreId
// was parked as "no settlement matches store …, order …" (the settlement
// that id was made for is looked up within the status's store only), and
// one with the right store but another amount named the request without
// its state or which of the fields disagree: the person on call had to
// search for the settlement, then compare field by field. The status is
// still parked, never applied (a status that disagrees with our record is
// not trusted), but its reason names the settlement (provider/requestId),
// its state and the fields that differ. A status with nothing of ours
// keeps its reason.
func TestProviderStatusConflictNamesOurSettlement(t *testing.T) {
	ack, settled := store.StateAcknowledged, store.StateSettled
	cases := []struct {
		name string
		seed seedSpec
		st   statusSpec
		// want: the exact reason when exact, else parts it must contain;
		// notWant: parts it must not contain.
		want    []string
		exact   bool
		notWant []string
		// failAnyStore fails the look-up of a correlation id in any store.
		failAnyStore bool
	}{
		{
			name:    "our correlation id, another StoreId",
			seed:    seedSpec{id: "req-A", cc: "cc-A", state: ack},
			st:      statusSpec{ccOf: "req-A", store: "S2", msgID: "m1"},
			want:    []string{"radial/req-A", "acknowledged", "StoreId S2 (ours S1)", "conflicting, not applied"},
			notWant: []string{"no settlement matches", "OrderId", "TenderType", "Amount"},
		},
		{
			name:    "our correlation id, right store, another amount",
			seed:    seedSpec{id: "req-A", cc: "cc-A", state: ack},
			st:      statusSpec{ccOf: "req-A", amount: "90.00", msgID: "m1"},
			want:    []string{"radial/req-A", "acknowledged", "Amount 90.00 USD (ours 100.00 USD)", "conflicting, not applied"},
			notWant: []string{"StoreId", "OrderId", "TenderType"},
		},
		{
			name: "our correlation id, another StoreId, order and tender",
			seed: seedSpec{id: "req-A", cc: "cc-A", state: ack},
			st:   statusSpec{ccOf: "req-A", store: "S2", order: otherOrderID, tender: "MC", msgID: "m1"},
			want: []string{"radial/req-A", "acknowledged", "StoreId S2 (ours S1)", "OrderId ORD-404 (ours ORD-1)",
				"TenderType MC (ours VC)", "conflicting, not applied"},
			notWant: []string{"Amount"},
		},
		{
			// A chargeback-looking R for another store must not refuse
			// our settled settlement.
			name:    "R with the correlation id of a settled settlement, another StoreId",
			seed:    seedSpec{id: "req-A", cc: "cc-A", state: settled},
			st:      statusSpec{ccOf: "req-A", store: "S2", verdict: messages.StatusRejected, decline: "chargeback", msgID: "m1"},
			want:    []string{"radial/req-A", "settled", "StoreId S2 (ours S1)", "conflicting, not applied"},
			notWant: []string{"no settlement matches"},
		},
		{
			name:  "nothing of ours: today's reason",
			seed:  seedSpec{id: "req-A", cc: "cc-A", state: ack},
			st:    statusSpec{cc: "cc-unknown", order: otherOrderID, msgID: "m1"},
			want:  []string{`no settlement matches store S1, order ORD-404, tender VC, Debit 100.00 USD, ClientContext "cc-unknown"`},
			exact: true,
		},
		{
			name:  "a correlation id of our form that no settlement has: today's reason",
			seed:  seedSpec{id: "req-A", cc: "cc-A", state: ack},
			st:    statusSpec{cc: correlationPrefix + "00000000000000000000000000000000", store: "S2", msgID: "m1"},
			want:  []string{`no settlement matches store S2, order ORD-1, tender VC, Debit 100.00 USD, ClientContext "sw1-00000000000000000000000000000000"`},
			exact: true,
		},
		{
			// The look-up is for the reason only: the status is parked
			// all the same, and the reason says the look-up failed.
			name:         "our correlation id, another StoreId, the look-up fails: today's reason, and why",
			seed:         seedSpec{id: "req-A", cc: "cc-A", state: ack},
			st:           statusSpec{ccOf: "req-A", store: "S2", msgID: "m1"},
			failAnyStore: true,
			want:         []string{"no settlement matches store S2", "could not be looked up: store down"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newPSEnv(t)
			ctx := context.Background()
			key := store.Key{Provider: "radial", RequestID: tc.seed.id}
			e.seed(tc.seed)
			if tc.failAnyStore {
				e.h.Store = anyStoreFindFails{e.st}
			}
			before, err := e.st.History(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if tc.st.ccOf != "" {
				tc.st.cc = e.corr[tc.st.ccOf]
			}
			got := e.handleParked(tc.st.message(t), tc.want, tc.notWant)
			if tc.exact && got != tc.want[0] {
				t.Errorf("parked_reason\n %q, want\n %q", got, tc.want[0])
			}
			s, err := e.st.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if s.State != tc.seed.state || s.ParkedReason != "" || s.DeclineReason != "" {
				t.Errorf("%s is %s (parked %q, decline %q), want it untouched in %s", key.RequestID, s.State, s.ParkedReason, s.DeclineReason, tc.seed.state)
			}
			if evs, err := e.st.Statuses(ctx, key); err != nil || len(evs) != 0 {
				t.Errorf("%s has %d status events (%v), want none", key.RequestID, len(evs), err)
			}
			if after, err := e.st.History(ctx, key); err != nil || len(after) != len(before) {
				t.Errorf("%s's history went from %d to %d lines (%v)", key.RequestID, len(before), len(after), err)
			}
		})
	}
}

// handleParked handles status in, which must be parked (parked: intact,
// nothing published, a reason mentioning every part of want and none of
// notWant), and returns its parked reason.
func (e *psEnv) handleParked(in *message.Message, want, notWant []string) string {
	e.t.Helper()
	if err := e.h.Handle(in); err != nil {
		e.t.Fatalf("Handle: %v", err)
	}
	return e.parked("the status", in, want, notWant)
}

// anyStoreFindFails fails a Find by correlation id in any store.
type anyStoreFindFails struct{ store.Store }

func (f anyStoreFindFails) Find(ctx context.Context, c store.Correlation) ([]store.Settlement, error) {
	if c.StoreID == "" && c.CorrelationID != "" {
		return nil, errors.New("store down")
	}
	return f.Store.Find(ctx, c)
}

// A Radial status that fails validation (a SettlementStatus other than S
// or R, a TenderType out of the schema) but carries one of our correlation
// ids was parked as "invalid provider status: …" alone: the settlement
// whose verdict it may carry was not named, and it waits for a status
// that came. The reason names it (provider/requestId and state); the
// status is still not applied. An invalid status with nothing of ours
// keeps its reason.
func TestProviderStatusInvalidNamesOurSettlement(t *testing.T) {
	cases := []struct {
		name    string
		st      statusSpec
		want    []string
		notWant []string
	}{
		{
			name: "our correlation id, SettlementStatus P",
			st:   statusSpec{ccOf: "req-A", verdict: "P", msgID: "m1"},
			want: []string{"invalid provider status: ", "SettlementStatus", "radial/req-A (acknowledged)", "show req-A"},
		},
		{
			name: "our correlation id, another StoreId, TenderType X",
			st:   statusSpec{ccOf: "req-A", store: "S2", tender: "X", msgID: "m1"},
			want: []string{"invalid provider status: ", "TenderType", "radial/req-A (acknowledged)"},
		},
		{
			name:    "a ClientContext not ours",
			st:      statusSpec{cc: "cc-A", verdict: "P", msgID: "m1"},
			want:    []string{"invalid provider status: ", "SettlementStatus"},
			notWant: []string{"req-A", "correlation id"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newPSEnv(t)
			ctx := context.Background()
			key := store.Key{Provider: "radial", RequestID: "req-A"}
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
			if tc.st.ccOf != "" {
				tc.st.cc = e.corr[tc.st.ccOf]
			}
			e.handleParked(tc.st.message(t), tc.want, tc.notWant)
			s, err := e.st.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if s.State != store.StateAcknowledged || s.ParkedReason != "" {
				t.Errorf("req-A is %s (parked %q), want it untouched", s.State, s.ParkedReason)
			}
		})
	}
}

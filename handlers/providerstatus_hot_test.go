package handlers

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// readCounter counts the store reads of the status handler.
type readCounter struct {
	store.Store
	statuses, finds atomic.Int64
}

func (c *readCounter) Statuses(ctx context.Context, key store.Key) ([]store.StatusEvent, error) {
	c.statuses.Add(1)
	return c.Store.Statuses(ctx, key)
}

func (c *readCounter) Find(ctx context.Context, corr store.Correlation) ([]store.Settlement, error) {
	c.finds.Add(1)
	return c.Store.Find(ctx, corr)
}

// countDecodes counts the provider statuses the handlers decode, for the
// rest of the test.
func countDecodes(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	orig := decodeStatus
	decodeStatus = func(b []byte) (*messages.PaymentSettlementStatus, error) {
		n.Add(1)
		return orig(b)
	}
	t.Cleanup(func() { decodeStatus = orig })
	return &n
}

// A provider status is decoded once: the decode StatusOrderKey made to
// order it (broker.KeyedSubscriber) is the handler's too — but only for
// the payload it decoded. The usual status, for a settlement awaiting its
// verdict, costs one store read (the settlement, by its correlation id):
// such a settlement has no events to read. A later status (the settlement
// is finished) reads each candidate's events once, after a second look-up
// under the order lock (the first was made without it).
func TestProviderStatusDecodesAndReadsOnce(t *testing.T) {
	cases := []struct {
		name string
		// keyed: StatusOrderKey saw the message first; swap: its payload
		// was replaced after that (another status of another order).
		keyed, swap bool
		msgID       string
		wantDecodes int64
		wantReads   int64 // Statuses
		wantFinds   int64
		// later: req-A is settled already and the status is an R.
		later bool
	}{
		{"ordered by its key, with a message_id", true, false, "m-1", 1, 0, 1, false},
		{"ordered by its key, without a message_id", true, false, "", 1, 0, 1, false},
		{"handled without a key", false, false, "m-1", 1, 0, 1, false},
		{"payload replaced after its key was taken", true, true, "m-1", 2, 0, 1, false},
		{"a later status, with a message_id", true, false, "m-1", 1, 1, 2, true},
		{"a later status, without a message_id", true, false, "", 1, 1, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPSEnv(t)
			stateA, verdict, want := store.StateAcknowledged, messages.StatusSettled, store.StateSettled
			if c.later {
				stateA, verdict, want = store.StateSettled, messages.StatusRejected, store.StateRefused
			}
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: stateA})
			e.seed(seedSpec{id: "req-B", cc: "cc-B", order: "ORD-2", state: store.StateAcknowledged})
			counter := &readCounter{Store: e.st}
			e.h.Store = counter
			decodes := countDecodes(t)
			msg := statusSpec{cc: e.corr["req-A"], msgID: c.msgID, verdict: verdict, decline: map[bool]string{true: "chargeback"}[c.later]}.message(t)
			if c.keyed {
				if c.swap {
					other := statusSpec{cc: e.corr["req-B"], order: "ORD-2", msgID: c.msgID}.message(t)
					if key := StatusOrderKey(other); key != testStoreID+"/ORD-2" {
						t.Fatalf("StatusOrderKey = %q", key)
					}
					other.Payload = msg.Payload
					msg = other
				} else if key := StatusOrderKey(msg); key != testStoreID+"/"+testOrderID {
					t.Fatalf("StatusOrderKey = %q", key)
				}
			}
			if err := e.h.Handle(msg); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if _, ok := e.get(statusQueue); !ok {
				t.Fatal("no status event published")
			}
			s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
			if err != nil || s.State != want {
				t.Fatalf("req-A is %s (%v), want %s", s.State, err, want)
			}
			if got := decodes.Load(); got != c.wantDecodes {
				t.Errorf("%d decodes, want %d", got, c.wantDecodes)
			}
			if got := counter.statuses.Load(); got != c.wantReads {
				t.Errorf("%d Statuses reads, want %d", got, c.wantReads)
			}
			if got := counter.finds.Load(); got != c.wantFinds {
				t.Errorf("%d Finds, want %d", got, c.wantFinds)
			}
		})
	}
}

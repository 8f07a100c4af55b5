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
// the payload it decoded; and the handler reads each candidate's events
// from the store once.
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
	}{
		{"ordered by its key, with a message_id", true, false, "m-1", 1, 1, 1},
		{"ordered by its key, without a message_id", true, false, "", 1, 1, 1},
		{"handled without a key", false, false, "m-1", 1, 1, 1},
		{"payload replaced after its key was taken", true, true, "m-1", 2, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPSEnv(t)
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
			e.seed(seedSpec{id: "req-B", cc: "cc-B", order: "ORD-2", state: store.StateAcknowledged})
			counter := &readCounter{Store: e.st}
			e.h.Store = counter
			decodes := countDecodes(t)
			msg := statusSpec{cc: e.corr["req-A"], msgID: c.msgID}.message(t)
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
			if err != nil || s.State != store.StateSettled {
				t.Fatalf("req-A is %s (%v), want settled", s.State, err)
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

package handlers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// clockStore is a store whose shared clock runs offset from the host's,
// or fails while fail is set; reads counts the reads.
type clockStore struct {
	store.Store
	offset time.Duration
	fail   atomic.Bool
	reads  atomic.Int32
}

func (c *clockStore) SharedNow(context.Context) (time.Time, bool, error) {
	c.reads.Add(1)
	if c.fail.Load() {
		return time.Time{}, false, errors.New("connection refused")
	}
	return time.Now().Add(c.offset), true, nil
}

// TestClockFollowsTheStoresSharedClock: the pipeline's clock is the host's
// corrected to the store's shared clock, read once per clockRefresh; a
// failed read keeps the last offset and is tried again after a second; a
// store that shares none leaves the host's clock.
func TestClockFollowsTheStoresSharedClock(t *testing.T) {
	ctx := context.Background()
	near := func(t *testing.T, got, want time.Time) {
		t.Helper()
		if d := got.Sub(want).Abs(); d > 500*time.Millisecond {
			t.Fatalf("clock %v, want about %v (%v off)", got, want, d)
		}
	}
	t.Run("shared", func(t *testing.T) {
		st := &clockStore{offset: -2 * time.Minute}
		skew := 3 * time.Minute // this host runs ahead
		h := &Settlement{Store: st, Now: func() time.Time { return time.Now().Add(skew) }}
		near(t, h.clock(ctx), time.Now().Add(st.offset))
		near(t, h.clock(ctx), time.Now().Add(st.offset))
		if n := st.reads.Load(); n != 1 {
			t.Fatalf("%d reads of the store's clock within clockRefresh, want 1", n)
		}
		if _, err := time.Parse(time.RFC3339Nano, h.stamp(ctx)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failed read", func(t *testing.T) {
		st := &clockStore{offset: time.Minute}
		st.fail.Store(true)
		h := &Settlement{Store: st}
		near(t, h.clock(ctx), time.Now()) // no offset known yet
		st.fail.Store(false)
		near(t, h.clock(ctx), time.Now()) // not read again at once
		time.Sleep(1100 * time.Millisecond)
		near(t, h.clock(ctx), time.Now().Add(st.offset))
		if n := st.reads.Load(); n != 2 {
			t.Fatalf("%d reads, want 2", n)
		}
	})
	t.Run("not shared", func(t *testing.T) {
		lite, err := store.Open(ctx, ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lite.Close() })
		h := &Settlement{Store: lite, Now: func() time.Time { return time.Now().Add(time.Hour) }}
		near(t, h.clock(ctx), time.Now().Add(time.Hour))
	})
}

// slowClockStore's SharedNow waits for release once block is set.
type slowClockStore struct {
	clockStore
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (c *slowClockStore) SharedNow(ctx context.Context) (time.Time, bool, error) {
	if c.block.Load() {
		c.entered <- struct{}{}
		<-c.release
	}
	return c.clockStore.SharedNow(ctx)
}

// TestClockRefreshDoesNotStallTheOthers: once an offset is known, a
// refresh that waits on a slow store (up to clockMaxRoundTrip, every
// second while it stays slow) is one caller's wait: every other settlement
// stamping a call meanwhile uses the last offset at once. (Before, the
// measurement ran under the clock's mutex and every delivery of the
// process queued behind it.)
func TestClockRefreshDoesNotStallTheOthers(t *testing.T) {
	ctx := context.Background()
	st := &slowClockStore{clockStore: clockStore{offset: time.Minute}, entered: make(chan struct{}), release: make(chan struct{})}
	h := &Settlement{Store: st}
	h.clock(ctx) // the first offset
	h.shared.mu.Lock()
	h.shared.measured = time.Now().Add(-clockRefresh) // due for a refresh
	h.shared.mu.Unlock()
	st.block.Store(true)
	refreshed := make(chan time.Time)
	go func() { refreshed <- h.clock(ctx) }()
	<-st.entered // the refresh waits on the store
	done := make(chan time.Time)
	go func() { done <- h.clock(ctx) }()
	select {
	case at := <-done:
		if d := at.Sub(time.Now().Add(time.Minute)).Abs(); d > 500*time.Millisecond {
			t.Errorf("clock %v during the refresh, want the last offset's %v", at, time.Now().Add(time.Minute))
		}
	case <-time.After(2 * time.Second):
		t.Error("a clock reading waited for another caller's refresh of the offset")
	}
	close(st.release)
	if at := <-refreshed; at.Sub(time.Now().Add(time.Minute)).Abs() > 500*time.Millisecond {
		t.Errorf("refreshed clock %v, want about %v", at, time.Now().Add(time.Minute))
	}
}

// failingClockStore is a store that shares a clock it cannot read.
type failingClockStore struct{ store.Store }

func (failingClockStore) SharedNow(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, errors.New("connection reset by peer")
}

// TestNoCallBeforeTheSharedClockIsKnown: a replica that has never read the
// store's shared clock does not record a call's time, count a settle
// window or call the provider on its own clock, which may be minutes off
// the other replicas' (a window passed at once: a late commit read for
// before it landed, then a second capture). The delivery fails like one
// that cannot reach its store, and goes on once the clock is read.
// (Before, the host's clock was used until a read succeeded.)
func TestNoCallBeforeTheSharedClockIsKnown(t *testing.T) {
	r := newRig(t, newScripted("miva", providers.Facts{}))
	good := r.h.Store
	r.h.Store = failingClockStore{good}
	r.h.Now = func() time.Time { return time.Now().Add(3 * time.Minute) }
	msg := requestMsg(t, "req-clock", messages.SettlementDebit, nil)
	if err := r.h.HandleSafely(msg); err == nil {
		t.Fatal("the delivery succeeded without the shared clock")
	}
	if n := len(r.p.confirmAttempts) + r.p.ledger["req-clock"]; n != 0 {
		t.Fatalf("the provider was called (%d) before the shared clock was known", n)
	}
	r.h.Store = good // the store answers again (SQLite: its host's clock)
	time.Sleep(1100 * time.Millisecond)
	r.deliver(t, requestMsg(t, "req-clock", messages.SettlementDebit, nil))
	if got := r.get(t, "req-clock").State; got != store.StateSettled {
		t.Fatalf("state %s after the clock was read, want settled", got)
	}
}

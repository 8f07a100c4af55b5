package miva_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestReplicaWhoseClockRunsAheadWaitsOutTheSettleWindow: two replicas on
// one PostgreSQL database, B's clock 2 minutes ahead of A's (and of the
// database's). A's capture is answered 503 by a proxy (not sent) while
// the call goes on to Miva, which commits it late (3 s). The settle
// window (6 s) counts from the time A recorded, on A's clock; B runs the
// retry. Counted on B's own clock the window had passed 2 minutes ago, so
// B read the payment list at once (nothing yet), captured again, and the
// late commit made it two captures in Miva's ledger. Each replica must
// count the window on the clock they share (the database's): B waits, then
// finds the late capture and reports S for it.
func TestReplicaWhoseClockRunsAheadWaitsOutTheSettleWindow(t *testing.T) {
	skewedReplicasSettleOnce(t, func(st store.Store) store.Store { return st })
}

// TestReplicaWhoseStoreClockIsSlowToReadWaitsOutTheSettleWindow: as
// above, but B's reads of the database's clock take 1.5 s (a loaded
// database, a pool whose connections are all busy). A measurement slower
// than clockMaxRoundTrip (1 s) was dropped, also when no offset was known
// yet, so B never had one and counted the window on its own clock, 2
// minutes ahead: it read the payment list before the late commit landed
// and captured again (two captures in Miva's ledger). Without a known
// offset, a slow measurement (its error is half its round trip) is far
// better than none: B must take it, wait, and report S for the one capture.
func TestReplicaWhoseStoreClockIsSlowToReadWaitsOutTheSettleWindow(t *testing.T) {
	skewedReplicasSettleOnce(t, func(st store.Store) store.Store { return slowSharedClock{st, 1500 * time.Millisecond} })
}

// slowSharedClock's SharedNow answers after delay (or when ctx ends).
type slowSharedClock struct {
	store.Store
	delay time.Duration
}

func (s slowSharedClock) SharedNow(ctx context.Context) (time.Time, bool, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return time.Time{}, false, ctx.Err()
	}
	return s.Store.SharedNow(ctx)
}

// skewedReplicasSettleOnce runs the scenario above with B's store wrapped
// by wrapB.
func skewedReplicasSettleOnce(t *testing.T, wrapB func(store.Store) store.Store) {
	ctx := context.Background()
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 4300, Records: []sandbox.RecordSeed{
		{ID: 43, Type: sandbox.TypeAuth, Amount: "100.00"},
	}})
	const late, window = 3 * time.Second, 6 * time.Second
	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{LateNext: 1, LateMS: int(late / time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	useProxy(t, e, notSentProxy(t, e.srv.URL, "OrderPayment_Capture", 0, 0), window)
	dsn := testenv.PostgresDSN(t)
	replica := func(skew time.Duration, wrap func(store.Store) store.Store) (*handlers.Settlement, *fakePub) {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		pub := &fakePub{}
		return &handlers.Settlement{
			Provider:    e.client,
			Store:       wrap(st),
			Pub:         pub,
			Retry:       handlers.RetryPolicy{Delays: []time.Duration{time.Second}, MaxAttempts: 30},
			CallTimeout: 2 * time.Second,
			Log:         zerolog.Nop(),
			Now:         func() time.Time { return time.Now().Add(skew) },
		}, pub
	}
	a, aPub := replica(0, func(st store.Store) store.Store { return st })
	b, bPub := replica(2*time.Minute, wrapB)

	msg := settlementMessage(t, "req-skew", "4300", messages.SettlementDebit, "10.00")
	if err := a.Handle(msg); err != nil {
		t.Fatalf("A: %v", err)
	}
	ps := aPub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("A: status %+v after a 503", st)
	}
	var st *messages.PaymentSettlementStatus
	for i := 0; i < 20 && st == nil; i++ {
		next := retryOf(t, ps)
		if i > 0 {
			time.Sleep(time.Second) // the retry queue's delay
		}
		if err := b.Handle(next); err != nil {
			t.Fatalf("B: %v", err)
		}
		ps = bPub.take()
		for _, m := range ps {
			if m.key == broker.ParkedQueue("miva") {
				t.Fatalf("parked: %s (captures %+v)", m.msg.Metadata.Get("parked_reason"), captures(e))
			}
		}
		st = statusOf(t, ps)
	}
	time.Sleep(late + 500*time.Millisecond) // the late commit has landed
	if cs := captures(e); len(cs) != 1 {
		t.Fatalf("Miva's ledger shows %d captures for one debit (status %+v): %+v", len(cs), st, cs)
	}
	if st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %+v, want S for the one capture", st)
	}
}

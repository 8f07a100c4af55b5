package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

func (r *rig) sweeper(later time.Duration) *Sweeper {
	return &Sweeper{
		Store: r.st, Pub: r.pub, Providers: map[string]providers.Provider{r.p.name: r.p},
		Interval: time.Second, StuckAfter: time.Minute, OutboxAfter: time.Second,
		Log: r.h.Log, Now: func() time.Time { return time.Now().Add(later) },
	}
}

// Hole 6, outbox: a status recorded with the terminal state but never
// published (the broker went away, then the message was lost) is relayed
// by the sweeper with its recorded message_id, once.
func TestSweeperRelaysUnpublishedEvents(t *testing.T) {
	r := newRig(t, newScripted("prov", providers.Facts{}))
	r.pub.failStatus = true
	if err := r.h.Handle(requestMsg(t, "req-1", messages.SettlementDebit, nil)); err == nil {
		t.Fatal("Handle succeeded although the status could not be published")
	}
	evs, err := r.st.Statuses(context.Background(), store.Key{Provider: "prov", RequestID: "req-1"})
	if err != nil || len(evs) != 1 || evs[0].PublishedAt != nil {
		t.Fatalf("recorded events %+v (%v): want one, unpublished", evs, err)
	}
	r.pub.failStatus = false
	w := r.sweeper(time.Minute)
	rep, err := w.Sweep(context.Background())
	if err != nil || rep.Relayed != 1 {
		t.Fatalf("sweep %+v, %v: want one event relayed", rep, err)
	}
	got := only(t, r.pub.take(), statusQ)
	if got.UUID != evs[0].MessageID {
		t.Errorf("relayed message_id %s, want the recorded %s", got.UUID, evs[0].MessageID)
	}
	if rep, _ := w.Sweep(context.Background()); rep.Relayed != 0 {
		t.Errorf("second sweep relayed %d again", rep.Relayed)
	}
}

// Hole 6: a settlement acknowledged by an asynchronous provider that never
// sends a status is parked past the provider's deadline, with a reason.
func TestSweeperParksAcknowledgedPastDeadline(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r := newRig(t, p)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	r.pub.take()
	if rep, _ := r.sweeper(30 * time.Minute).Sweep(context.Background()); rep.Parked != 0 {
		t.Fatalf("parked before the deadline: %+v", rep)
	}
	rep, err := r.sweeper(2 * time.Hour).Sweep(context.Background())
	if err != nil || rep.Parked != 1 {
		t.Fatalf("sweep %+v, %v: want one parked", rep, err)
	}
	parked := only(t, r.pub.take(), broker.ParkedQueue("radial"))
	s := r.get(t, "req-1")
	if s.State != store.StateAcknowledged || !strings.Contains(s.ParkedReason, "no status within") ||
		parked.Metadata.Get(HeaderParkedReason) != s.ParkedReason {
		t.Errorf("settlement %s parked %q; parked message reason %q", s.State, s.ParkedReason, parked.Metadata.Get(HeaderParkedReason))
	}
	if rep, _ := r.sweeper(3 * time.Hour).Sweep(context.Background()); rep.Parked != 0 {
		t.Errorf("parked twice: %+v", rep)
	}
}

// Hole 6: a settlement left in flight after its message is gone is resumed
// from the store and ends with a status.
func TestSweeperResumesSettlementsWhoseMessageIsGone(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	p.settleErrs = []error{providers.NotSentError("503", "busy", nil)}
	r := newRig(t, p)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{"x-extra": "kept"}))
	r.pub.take() // the retry message is lost
	if rep, _ := r.sweeper(30 * time.Second).Sweep(context.Background()); rep.Resumed != 0 {
		t.Fatalf("resumed before StuckAfter: %+v", rep)
	}
	rep, err := r.sweeper(2 * time.Minute).Sweep(context.Background())
	if err != nil || rep.Resumed != 1 {
		t.Fatalf("sweep %+v, %v: want one resumed", rep, err)
	}
	resumed := only(t, r.pub.take(), broker.RequestQueue("prov"))
	if resumed.Metadata.Get(HeaderSwept) != "true" || resumed.Metadata.Get("x-extra") != "kept" || resumed.Metadata.Get(HeaderStoreID) != "STORE1" {
		t.Errorf("resumed message headers %v", resumed.Metadata)
	}
	if _, ok := broker.ReadySince(resumed.Metadata); !ok || resumed.Metadata.Get(broker.HeaderReadyAt) == "" {
		t.Errorf("resumed message has no %s", broker.HeaderReadyAt)
	}
	r.deliver(t, resumed)
	only(t, r.pub.take(), statusQ)
	if s := r.get(t, "req-1"); s.State != store.StateSettled {
		t.Errorf("state %s, want settled", s.State)
	}
	if _, _, ledger := p.counts(); ledger["req-1"] != 1 {
		t.Errorf("ledger %v, want one capture", ledger)
	}
}

// failingOutbox is a store whose outbox cannot be read.
type failingOutbox struct{ store.Store }

func (failingOutbox) Unpublished(context.Context, time.Time, store.OutboxCursor, int) ([]store.StatusEvent, error) {
	return nil, errors.New("outbox read failed")
}

// A sweep goes on past what it cannot handle: a status event whose sealed
// body cannot be opened (a key no longer configured, a damaged value) is
// skipped, logged by its key and counted, and the readable one is still
// relayed; an outbox read that fails is the round's error, but the stuck
// settlement is still resumed. Before, Unpublished failed as a whole on
// the one unreadable event and Sweep returned at the relay's error: the
// outbox was never relayed again and no settlement was ever parked or
// resumed (TestReview2OneUnreadableEventHidesTheWholeOutbox).
func TestSweepGoesOnPastAnUnreadableRowOrAFailingStep(t *testing.T) {
	for _, c := range []struct {
		name        string
		wrap        func(store.Store) store.Store
		wantErr     string
		wantRelayed int
	}{
		{"an outbox event sealed with a key not configured",
			func(st store.Store) store.Store { return store.Encrypted(st, nil) }, "", 1},
		{"an outbox read that fails",
			func(st store.Store) store.Store { return failingOutbox{store.Encrypted(st, nil)} }, "relay the outbox: outbox read failed", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newScripted("prov", providers.Facts{})
			p.settleErrs = []error{providers.NotSentError("503", "busy", nil)}
			r := newRig(t, p)
			ctx := context.Background()
			// stuck: in flight, its retry message lost.
			r.deliver(t, requestMsg(t, "stuck", messages.SettlementDebit, nil))
			r.pub.take()
			// unpublished: settled, its status never published.
			r.pub.failStatus = true
			if err := r.h.Handle(requestMsg(t, "unpublished", messages.SettlementDebit, nil)); err == nil {
				t.Fatal("Handle succeeded although the status could not be published")
			}
			r.pub.failStatus = false
			// sealed: settled, its request and status event sealed with a
			// key this worker does not have.
			key := store.Key{Provider: "prov", RequestID: "sealed"}
			sealed := []byte("SWE1\x01\x02\x03\x04 not for this worker's keys")
			if _, _, err := r.st.Register(ctx, store.Settlement{Key: key, StoreID: "STORE1", OrderID: "O", Request: sealed}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.st.Transition(ctx, key, nil, store.StateSettled, store.Change{},
				&store.StatusEvent{DedupKey: "final", SettlementStatus: "S", Body: sealed}); err != nil {
				t.Fatal(err)
			}

			var logs bytes.Buffer
			w := r.sweeper(2 * time.Minute)
			w.Store = c.wrap(r.st)
			w.Log = zerolog.New(&logs)
			w.Metrics = NewMetrics(prometheus.NewRegistry())
			rep, err := w.Sweep(ctx)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Sweep error %v, want %q", err, c.wantErr)
			}
			if rep.Relayed != c.wantRelayed || rep.Resumed != 1 {
				t.Errorf("sweep %+v: want %d relayed and the stuck settlement resumed", rep, c.wantRelayed)
			}
			published := map[string]int{}
			for _, m := range r.pub.take() {
				switch {
				case strings.HasPrefix(m.key, statusQ):
					published[statusQ]++
				case strings.HasPrefix(m.key, broker.RequestQueue("prov")):
					published["request"]++
				}
			}
			if published[statusQ] != c.wantRelayed || published["request"] != 1 {
				t.Errorf("published %v: want %d status events and the stuck request", published, c.wantRelayed)
			}
			if c.wantErr != "" {
				return
			}
			if !strings.Contains(logs.String(), `"request_id":"sealed"`) || strings.Contains(logs.String(), "not for this worker") {
				t.Errorf("log %s: want the unreadable event named by its key, without its content", logs.String())
			}
			if v := testutil.ToFloat64(w.Metrics.swept.WithLabelValues("prov", "", "unreadable")); v != 1 {
				t.Errorf("settlement_swept_total{action=unreadable} = %v, want 1", v)
			}
		})
	}
}

// The sweeper's batch counts only the providers it runs: with Batch=2 and
// more rows of a disabled provider older than an enabled provider's
// settlement, that settlement is still resumed (in flight past
// StuckAfter) or parked (acknowledged past its status deadline). Before,
// resume and parkOverdue read the oldest stale rows of every provider up
// to Batch and skipped the disabled provider's afterwards: the enabled
// provider's settlement was never reached, round after round.
func TestSweepFindsAnEnabledProvidersRowsPastADisabledOnes(t *testing.T) {
	for _, c := range []struct {
		name     string
		facts    providers.Facts
		accept   bool          // the provider acknowledges (asynchronous)
		settle   []error       // the provider's first answers
		later    time.Duration // the sweep's clock ahead of now
		disabled store.State   // the disabled provider's rows' state
		want     SweepReport
	}{
		{"resume a stuck settlement", providers.Facts{}, false, []error{providers.NotSentError("503", "busy", nil)},
			2 * time.Minute, store.StateSubmitting, SweepReport{Resumed: 1}},
		{"park an overdue acknowledged settlement", providers.Facts{Idempotent: true, StatusDeadline: time.Hour}, true, nil,
			2 * time.Hour, store.StateAcknowledged, SweepReport{Parked: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newScripted("prov", c.facts)
			p.accept = c.accept
			p.settleErrs = c.settle
			r := newRig(t, p)
			ctx := context.Background()
			for i := range 3 { // older than the enabled provider's
				key := store.Key{Provider: "disabled", RequestID: fmt.Sprintf("d-%d", i)}
				if _, _, err := r.st.RegisterMoving(ctx, store.Settlement{Key: key, StoreID: "STORE1", OrderID: "O"}, c.disabled, store.Change{}); err != nil {
					t.Fatal(err)
				}
			}
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
			r.pub.take()
			w := r.sweeper(c.later)
			w.Batch = 2
			rep, err := w.Sweep(ctx)
			if err != nil || rep != c.want {
				t.Fatalf("sweep %+v, %v; want %+v", rep, err, c.want)
			}
			for i := range 3 {
				s, err := r.st.Get(ctx, store.Key{Provider: "disabled", RequestID: fmt.Sprintf("d-%d", i)})
				if err != nil || s.ParkedReason != "" || s.State != c.disabled {
					t.Errorf("the disabled provider's %s: %s, parked %q, %v; want it left alone", s.RequestID, s.State, s.ParkedReason, err)
				}
			}
		})
	}
}

// TestStatusAfterDeadlineParkingClearsTheParking: the sweeper parks an
// acknowledged settlement at its status deadline; Radial's status arrives
// just after. The verdict is applied and published, and the parking is
// cleared with it. It once stayed: the settled settlement kept "sent no
// status within …" as its parked reason, so it counted as parked for
// operators (stats, the parked-settlements gauge) and retention, which
// skips parked rows, never purged its request body (card data).
func TestStatusAfterDeadlineParkingClearsTheParking(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r := newRig(t, p)
	var sent *providers.Request
	p.onSettle = func(req *providers.Request) { sent = req }
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	r.pub.take()
	rep, err := r.sweeper(2 * time.Hour).Sweep(context.Background())
	if err != nil || rep.Parked != 1 {
		t.Fatalf("sweep %+v, %v: want one parked", rep, err)
	}
	r.pub.take()
	ps := &ProviderStatus{Provider: "radial", Queue: "q.status.radial", Store: r.st, Pub: r.pub, Log: r.h.Log}
	if err := ps.HandleSafely(providerStatusMsg(t, sent, messages.StatusSettled, "radial-status-1")); err != nil {
		t.Fatal(err)
	}
	only(t, r.pub.take(), statusQ)
	s := r.get(t, "req-1")
	if s.State != store.StateSettled {
		t.Fatalf("state %s, want settled", s.State)
	}
	if s.ParkedReason != "" {
		t.Errorf("settled by Radial's status, yet still parked: %q", truncate(s.ParkedReason, 80))
	}
	w := r.sweeper(24 * 365 * time.Hour)
	w.Retention = time.Hour
	rep, err = w.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s := r.get(t, "req-1"); len(s.Request) > 0 {
		t.Errorf("a year later the settled settlement still holds its request body (%d bytes; purged %d): retention skips it as parked", len(s.Request), rep.Purged)
	}
}

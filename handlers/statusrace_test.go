package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// providerStatusMsg is the asynchronous status a provider sends for req
// (the ClientContext it echoes is the correlation id it was sent).
func providerStatusMsg(t *testing.T, req *providers.Request, verdict, msgID string) *message.Message {
	t.Helper()
	st := statusFor(req.Message, req.StoreID, req.TenderType, verdict, "")
	st.ClientContext = correlationID(store.Key{Provider: req.Provider, RequestID: req.RequestID}, nil)
	body, err := messages.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	m := message.NewMessage(msgID, body)
	m.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	m.Metadata.Set(broker.MetaMessageID, msgID)
	return m
}

// The provider's status can arrive while the request handler still holds
// the order's lock: after the provider committed, before the request
// handler recorded "acknowledged". The status must not wait for that lock
// (its verdict would wait a whole write behind it, the status stage of
// issue 9), and the request handler, finding the verdict recorded first,
// must end quietly: one capture, one S, no retry.
func TestStatusBeforeTheAcknowledgedWriteSettlesOnce(t *testing.T) {
	for _, ref := range []string{"", "ack-7"} {
		t.Run("acknowledgement reference "+or(ref, "none"), func(t *testing.T) { statusBeforeAcknowledged(t, ref) })
	}
}

func statusBeforeAcknowledged(t *testing.T, ref string) {
	p := newScripted("prov", providers.Facts{Idempotent: true})
	p.accept, p.acceptRef = true, ref
	r := newRig(t, p)
	ps := &ProviderStatus{Provider: "prov", Queue: "q.status.prov", Store: r.st, Pub: r.pub, Log: zerolog.Nop()}
	statusDone := make(chan error, 1)
	waited := false
	p.onSettle = func(req *providers.Request) {
		go func() {
			statusDone <- ps.HandleSafely(providerStatusMsg(t, req, messages.StatusSettled, "radial-status-1"))
		}()
		select {
		case err := <-statusDone:
			statusDone <- err
		case <-time.After(3 * time.Second):
			waited = true // held by the order lock this delivery holds
		}
	}
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	select {
	case err := <-statusDone:
		if err != nil {
			t.Fatalf("status handler: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("status handler never returned")
	}
	if waited {
		t.Error("the provider status waited for the order lock held by the request it settles")
	}
	if ms := r.pub.take(); len(ms) != 1 {
		t.Errorf("%d messages published, want our one status event (nothing retried or parked)", len(ms))
	} else {
		only(t, ms, statusQ)
	}
	s := r.get(t, "req-1")
	if s.State != store.StateSettled {
		t.Errorf("settlement is %s, want settled", s.State)
	}
	if s.Refs["provider_ref"] != ref {
		t.Errorf("provider_ref %q, want the acknowledgement's %q kept on the settled settlement", s.Refs["provider_ref"], ref)
	}
	if _, _, ledger := p.counts(); ledger["req-1"] != 1 {
		t.Errorf("provider ledger has %d captures of req-1, want 1", ledger["req-1"])
	}
	// A redelivery of the request republishes the recorded S, nothing else.
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	if ev := only(t, r.pub.take(), statusQ); ev.Metadata.Get(HeaderSettlementStatus) != messages.StatusSettled {
		t.Errorf("republished %q, want S", ev.Metadata.Get(HeaderSettlementStatus))
	}
	if settles, _, _ := p.counts(); settles != 1 {
		t.Errorf("provider Settle called %d times, want 1", settles)
	}
}

// staleGet is a store whose Get returns the settlement as it was before
// a concurrent writer moved it (a read that lost a race).
type staleGet struct {
	store.Store
	stale store.Settlement
}

func (s staleGet) Get(context.Context, store.Key) (store.Settlement, error) { return s.stale, nil }

// A handler panic records its parked reason on the settlement; a verdict
// recorded meanwhile (the provider's status settled it) must not be undone
// by that write: the parking is a compare-and-set on the state it read.
func TestPanicParkingDoesNotUndoAConcurrentVerdict(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	r := newRig(t, p)
	ctx := context.Background()
	req := testRequest()
	req.RequestID = "req-1"
	key := store.Key{Provider: "prov", RequestID: "req-1"}
	if _, _, err := r.st.Register(ctx, store.Settlement{Key: key, OrderID: req.OrderID(), StoreID: "STORE1"}); err != nil {
		t.Fatal(err)
	}
	stale, _, err := r.st.Transition(ctx, key, nil, store.StateSubmitting, store.Change{Note: "seed"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.st.Transition(ctx, key, nil, store.StateSettled, store.Change{Note: "provider status S"}, nil); err != nil {
		t.Fatal(err)
	}
	r.h.Store = staleGet{Store: r.st, stale: stale}
	r.h.recordPanic(ctx, requestMsg(t, "req-1", messages.SettlementDebit, nil), "a panic", zerolog.Nop())
	s, err := r.st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != store.StateSettled {
		t.Errorf("the panic's parking moved the settled settlement to %s", s.State)
	}
}

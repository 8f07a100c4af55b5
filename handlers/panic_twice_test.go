package handlers

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// getPanics is a store whose Get panics once armed: the bug that made the
// handler panic strikes again while HandleSafely records the panic.
type getPanics struct {
	store.Store
	armed *atomic.Bool
}

func (g getPanics) Get(ctx context.Context, k store.Key) (store.Settlement, error) {
	if g.armed.Load() {
		panic("store read broke again")
	}
	return g.Store.Get(ctx, k)
}

// A panic inside HandleSafely's own recording of a panic (recordPanic
// reads the store and decodes the message again) would escape the
// deferred recovery and end the process; the broker would redeliver the
// message to the next process, which would crash the same way: a crash
// loop of every replica. The message is parked instead.
func TestPanicWhileRecordingAPanicStillParks(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	p.panicSettle = true
	armed := &atomic.Bool{}
	p.onSettle = func(*providers.Request) { armed.Store(true) }
	r := newRig(t, p)
	r.h.Store = getPanics{Store: r.h.Store, armed: armed}
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("HandleSafely let a second panic escape: %v", v)
			}
		}()
		err = r.h.HandleSafely(requestMsg(t, "req-1", messages.SettlementDebit, nil))
	}()
	if err != nil {
		t.Fatalf("HandleSafely returned %v: the message would be requeued", err)
	}
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "panic") {
		t.Errorf("parked_reason %q does not say the worker panicked", reason)
	}
}

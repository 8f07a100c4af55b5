package handlers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// hungOutbox is a store whose outbox read never returns before its
// context ends (a statement waiting on a lock, a server that stopped
// answering).
type hungOutbox struct{ store.Store }

func (hungOutbox) Unpublished(ctx context.Context, _ time.Time, _ store.OutboxCursor, _ int) ([]store.StatusEvent, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// hungPub is a publisher whose publish never returns before its context
// ends (a broker that stopped confirming).
type hungPub struct{}

func (hungPub) Publish(ctx context.Context, _, _ string, _ *message.Message) error {
	<-ctx.Done()
	return ctx.Err()
}

// A sweep round ran with the caller's context only, under the sweep lock:
// one store query or publish that never returned held the lock forever,
// this replica never swept again, and every other replica skipped its
// rounds in silence ("another replica sweeps"). A round must end at its
// deadline (RoundTimeout) with an error and release the lock, so that the
// next round — here another replica's, on the same store — runs.
func TestSweepRoundEndsAtItsDeadlineAndReleasesTheLock(t *testing.T) {
	for _, c := range []struct {
		name string
		hang func(*Sweeper)
	}{
		{"an outbox read that hangs", func(w *Sweeper) { w.Store = hungOutbox{w.Store} }},
		{"a publish that hangs", func(w *Sweeper) { w.Pub = hungPub{} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newScripted("prov", providers.Facts{})
			p.settleErrs = []error{providers.NotSentError("503", "busy", nil)}
			r := newRig(t, p)
			// stuck: in flight, its retry message lost; each round resumes it.
			r.deliver(t, requestMsg(t, "stuck", messages.SettlementDebit, nil))
			r.pub.take()

			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel) // ends a round that ignored its deadline
			hung := r.sweeper(2 * time.Minute)
			hung.RoundTimeout = 300 * time.Millisecond
			c.hang(hung)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := hung.Sweep(ctx)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("hung round's error = %v, want its deadline exceeded", err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("hung round took %v, deadline 300ms", d)
				}
			case <-time.After(3 * time.Second):
				t.Errorf("hung round still running after 3s (deadline 300ms): it holds the sweep lock forever")
			}

			next := r.sweeper(2 * time.Minute)
			rep, err := next.Sweep(context.Background())
			if err != nil || rep.Resumed != 1 {
				t.Errorf("next round %+v, %v: want it run and the stuck settlement resumed, not skipped behind a lock nobody releases", rep, err)
			}
		})
	}
}

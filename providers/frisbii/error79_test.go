package frisbii_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestError79OnRetryIsNeverTakenAsSettled is hole 4: error 79 on a retry
// must not report S for money another settlement moved.
func TestError79OnRetryIsNeverTakenAsSettled(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		auth    int64
		run     func(t *testing.T, e *env) (providers.Outcome, error)
		want    providers.Kind
		class   providers.Class
		reason  string
		settled int64
	}{
		{name: "A 40 fails with 503, B 100 settles, A's retry gets 79: unresolved", auth: 10000,
			run: func(t *testing.T, e *env) (providers.Outcome, error) {
				e.faults(t, sandbox.EndpointSettle, sandbox.Faults{FailNext: 1})
				if _, err := e.client.Settle(ctx, debit("A", "O1", "40.00")); providers.ClassOf(err) != providers.Transient {
					t.Fatalf("A first = %v", err)
				}
				if out, err := e.client.Settle(ctx, debit("B", "O1", "100.00")); err != nil || out.Kind != providers.Settled {
					t.Fatalf("B = %+v, %v", out, err)
				}
				a := debit("A", "O1", "40.00")
				a.Attempt = 2
				out, _, err := e.client.Reconcile(ctx, a)
				return out, err
			},
			class: providers.Unresolved, reason: "was not settled", settled: 10000},
		{name: "same on Settle with Attempt 2", auth: 10000,
			run: func(t *testing.T, e *env) (providers.Outcome, error) {
				if out, err := e.client.Settle(ctx, debit("B", "O1", "100.00")); err != nil || out.Kind != providers.Settled {
					t.Fatalf("B = %+v, %v", out, err)
				}
				a := debit("A", "O1", "40.00")
				a.Attempt = 2
				return e.client.Settle(ctx, a)
			},
			class: providers.Unresolved, reason: "Frisbii admin", settled: 10000},
		{name: "genuine repeat of A's own settle (reply dropped) is settled", auth: 4000,
			run: func(t *testing.T, e *env) (providers.Outcome, error) {
				e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
				if _, err := e.client.Settle(ctx, debit("A", "O1", "40.00")); providers.ClassOf(err) != providers.Transient {
					t.Fatalf("A first = %v", err)
				}
				a := debit("A", "O1", "40.00")
				a.Attempt = 2
				out, _, err := e.client.Reconcile(ctx, a)
				return out, err
			},
			want: providers.Settled, settled: 4000},
		{name: "partial settles: A 40 and B 60 both settled, repeats replay", auth: 10000,
			run: func(t *testing.T, e *env) (providers.Outcome, error) {
				e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
				if _, err := e.client.Settle(ctx, debit("A", "O1", "40.00")); providers.ClassOf(err) != providers.Transient {
					t.Fatalf("A first = %v", err)
				}
				if out, err := e.client.Settle(ctx, debit("B", "O1", "60.00")); err != nil || out.Kind != providers.Settled {
					t.Fatalf("B = %+v, %v", out, err)
				}
				a := debit("A", "O1", "40.00")
				a.Attempt = 2
				return e.client.Settle(ctx, a)
			},
			want: providers.Settled, settled: 10000},
		{name: "partial settles: B 60 then C 40 fill the charge, A 40 never sent gets 79: unresolved", auth: 10000,
			run: func(t *testing.T, e *env) (providers.Outcome, error) {
				for _, r := range []*providers.Request{debit("B", "O1", "60.00"), debit("C", "O1", "40.00")} {
					if out, err := e.client.Settle(ctx, r); err != nil || out.Kind != providers.Settled {
						t.Fatalf("%s = %+v, %v", r.RequestID, out, err)
					}
				}
				a := debit("A", "O1", "40.00")
				a.Attempt = 3
				out, _, err := e.client.Reconcile(ctx, a)
				return out, err
			},
			class: providers.Unresolved, reason: "40.00", settled: 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: tt.auth})
			out, err := tt.run(t, e)
			if tt.want != "" {
				if err != nil || out.Kind != tt.want {
					t.Fatalf("got %+v, %v; want %s", out, err, tt.want)
				}
			} else {
				if out.Kind == providers.Settled {
					t.Fatalf("reported S for money this request did not move: %+v", out)
				}
				if providers.ClassOf(err) != tt.class || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("err = %v (class %v); want class %v with %q", err, providers.ClassOf(err), tt.class, tt.reason)
				}
			}
			if got := e.settled(t, "O1"); got != tt.settled {
				t.Fatalf("settled %d, want %d", got, tt.settled)
			}
		})
	}
}

package paysafe_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// BenchmarkDebitAgainstSandbox is one debit as the mixed run of
// cmd/settlement-bench makes it: ConfirmFunds (the authorization read),
// Settle (answered PENDING), the sandbox's batch, then Poll (COMPLETED),
// over loopback to the sandbox in this process.
func BenchmarkDebitAgainstSandbox(b *testing.B) {
	e := newEnv(b, sandbox.Config{})
	ids := make([]string, b.N)
	for i := range b.N {
		ids[i] = e.authorize(b, sandbox.Authorization{ID: "auth-" + strconv.Itoa(20_000_000+i), Amount: 10000})
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := debit("m-paysafe-"+strconv.Itoa(i), ids[i], "100.00", "USD")
		cr, err := e.client.ConfirmFunds(ctx, req)
		if err != nil || !cr.Available {
			b.Fatalf("confirm: %+v %v", cr, err)
		}
		req.Refs = cr.Refs
		out, err := e.client.Settle(ctx, req)
		if err != nil || out.Kind != providers.Pending {
			b.Fatalf("settle: %+v %v", out, err)
		}
		e.sb.RunBatch()
		req = withRefs(req, out)
		if out, err = e.client.Poll(ctx, req); err != nil || out.Kind != providers.Settled {
			b.Fatalf("poll: %+v %v", out, err)
		}
	}
}

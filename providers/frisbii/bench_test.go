package frisbii_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// BenchmarkDebitAgainstSandbox is one debit as the mixed run of
// cmd/settlement-bench makes it: ConfirmFunds (the charge read), then
// Settle, over loopback to the sandbox in this process.
func BenchmarkDebitAgainstSandbox(b *testing.B) {
	e := newEnv(b)
	const base = 30_000_000
	for i := range b.N {
		e.seed(b, sandbox.ChargeSeed{Handle: strconv.Itoa(base + i), Amount: 10000})
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		order := strconv.Itoa(base + i)
		req := debit("m-frisbii-"+order, order, "100.00")
		cr, err := e.client.ConfirmFunds(ctx, req)
		if err != nil || !cr.Available {
			b.Fatalf("confirm: %+v %v", cr, err)
		}
		req.Refs = cr.Refs
		out, err := e.client.Settle(ctx, req)
		if err != nil || out.Kind != providers.Settled {
			b.Fatalf("settle: %+v %v", out, err)
		}
	}
}

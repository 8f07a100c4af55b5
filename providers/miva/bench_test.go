package miva_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// BenchmarkDebitAgainstSandbox is one debit as the mixed run of
// cmd/settlement-bench makes it (an order with one authorization of the
// amount): ConfirmFunds (a payment list), then Settle (the capture and the
// list that names its record), over loopback to the sandbox in this
// process. Its CPU profile splits the client's share from the sandbox's.
func BenchmarkDebitAgainstSandbox(b *testing.B) {
	e := newEnv(b, sandbox.Config{})
	const base = 10_000_000
	for i := range b.N {
		if _, err := e.sb.SeedOrder(sandbox.OrderSeed{OrderID: int64(base + i), Currency: "USD",
			Records: []sandbox.RecordSeed{{Type: sandbox.TypeAuth, Amount: "100.00"}}}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := debit(strconv.Itoa(base+i), "100.00")
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

package frisbii_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

func TestRefundContract(t *testing.T) {
	settledSeed := func(script *sandbox.RefundScript) sandbox.ChargeSeed {
		return sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled, Refund: script}
	}
	tests := []struct {
		name     string
		seed     sandbox.ChargeSeed
		req      *providers.Request
		want     providers.Kind
		reason   string
		class    providers.Class
		code     string
		refunded int64
	}{
		{name: "refunded", seed: settledSeed(nil), req: credit("r1", "O1", "40.00"), want: providers.Settled, refunded: 4000},
		{name: "JPY", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 1500, Currency: "JPY", State: sandbox.StateSettled},
			req: request("r1", "O1", "Credit", "1500", "JPY"), want: providers.Settled, refunded: 1500},
		{name: "declined", seed: settledSeed(&sandbox.RefundScript{State: sandbox.RefundFailed, ErrorState: sandbox.ErrorStateHardDeclined, Error: "refund_declined"}),
			req: credit("r1", "O1", "40.00"), want: providers.Refused, reason: "Frisbii declined the refund (hard_declined: refund_declined)"},
		{name: "processing error is transient", seed: settledSeed(&sandbox.RefundScript{State: sandbox.RefundFailed, ErrorState: sandbox.ErrorStateProcessingError}),
			req: credit("r1", "O1", "40.00"), class: providers.Transient, code: "processing_error", reason: "retried with the same idempotency key"},
		{name: "processing is pending", seed: settledSeed(&sandbox.RefundScript{State: sandbox.RefundProcessing}),
			req: credit("r1", "O1", "40.00"), want: providers.Pending},
		{name: "beyond the settled amount", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled, SettledAmount: 3000},
			req: credit("r1", "O1", "30.01"), class: providers.Permanent, code: "65", reason: "Refund amount too high"},
		{name: "nothing settled", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req: credit("r1", "O1", "1.00"), class: providers.Permanent, code: "64", reason: "Invoice not settled"},
		{name: "unknown charge", seed: settledSeed(nil), req: credit("r1", "NOPE", "1.00"), class: providers.Permanent, code: "31", reason: "Invoice not found"},
		{name: "fraction", seed: settledSeed(nil), req: credit("r1", "O1", "1.001"), class: providers.Permanent, reason: "fraction of a minor unit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, tc.seed)
			out, err := e.client.Settle(context.Background(), tc.req)
			if tc.want == "" {
				checkErr(t, err, tc.class, tc.code, tc.reason)
			} else {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if out.Kind != tc.want || !strings.Contains(out.Reason, tc.reason) || out.Ref == "" || out.Refs[frisbii.RefRefundID] != out.Ref {
					t.Fatalf("outcome %+v, want %s %q", out, tc.want, tc.reason)
				}
			}
			if ci, ok := e.sb.ChargeInfo("O1"); ok && ci.RefundedAmount != tc.refunded {
				t.Fatalf("refunded %d, want %d", ci.RefundedAmount, tc.refunded)
			}
		})
	}
}

func TestRefundKeyPollAndRecovery(t *testing.T) {
	ctx := context.Background()
	t.Run("same key refunds once", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		req := credit("once", "O1", "25.00")
		req.Message.RefundReason = "Returned: damaged"
		e.faults(t, sandbox.EndpointRefund, sandbox.Faults{DropNext: 1})
		_, err := e.client.Settle(ctx, req)
		checkErr(t, err, providers.Transient, "502", "HTTP 502")
		req.Attempt = 2
		out, found, err := e.client.Reconcile(ctx, req)
		if err != nil || !found || out.Kind != providers.Settled {
			t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
		}
		es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.EntryRefund})
		if len(es) != 1 || es[0].Replays != 1 || es[0].RefundID != out.Ref || es[0].Amount != 2500 {
			t.Fatalf("ledger = %+v", es)
		}
		if ci, _ := e.sb.ChargeInfo("O1"); ci.RefundedAmount != 2500 {
			t.Fatalf("refunded %d", ci.RefundedAmount)
		}
	})
	t.Run("processing refund is polled until refunded", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled,
			Refund: &sandbox.RefundScript{State: sandbox.RefundProcessing, ProcessingMS: 60000}})
		req := credit("async", "O1", "100.00")
		out, err := e.client.Settle(ctx, req)
		if err != nil || out.Kind != providers.Pending || out.RecheckAfter != 5*time.Second {
			t.Fatalf("Settle = %+v, %v", out, err)
		}
		req.Refs = out.Refs // recorded by the pipeline
		if p, err := e.client.Poll(ctx, req); err != nil || p.Kind != providers.Pending {
			t.Fatalf("Poll before = %+v, %v", p, err)
		}
		e.clock.Add(time.Minute)
		p, err := e.client.Poll(ctx, req)
		if err != nil || p.Kind != providers.Settled || p.Ref != out.Ref {
			t.Fatalf("Poll after = %+v, %v", p, err)
		}
		if c := e.sb.Calls(); c.RefundGet.Total != 2 || c.Refund.Total != 1 {
			t.Fatalf("calls = %+v", c)
		}
	})
	t.Run("poll without a refund id repeats the refund with the same key", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		req := credit("again", "O1", "10.00")
		first, err := e.client.Settle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.client.Poll(ctx, req)
		if err != nil || p.Kind != providers.Settled || p.Ref != first.Ref {
			t.Fatalf("Poll = %+v, %v", p, err)
		}
		if ci, _ := e.sb.ChargeInfo("O1"); ci.RefundedAmount != 1000 {
			t.Fatalf("refunded %d, want 1000", ci.RefundedAmount)
		}
	})
}

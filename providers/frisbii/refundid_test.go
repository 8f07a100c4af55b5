package frisbii_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestPolledRefundAnsweredWithAnotherRefundIsNoVerdict: a credit left
// processing carries its refund's id. The poll's repeat of the refund under
// its key (after the read answered 107) was answered with another refund
// (Frisbii had forgotten the key sooner than FRISBII_KEY_LIFETIME and made a
// second refund): the client took that refund's state as the credit's, S,
// and the sandbox's ledger held two refunds of 40.00 under key c1. A read
// of the refund answered with another refund of the charge likewise gave
// that refund's verdict. The repeat's other refund is now parked
// (Unresolved, naming both ids); the read's is no answer (transient).
func TestPolledRefundAnsweredWithAnotherRefundIsNoVerdict(t *testing.T) {
	ctx := context.Background()
	t.Run("repeat under the key answered with a new refund", func(t *testing.T) {
		e := newEnvForgetting(t, time.Hour) // Frisbii forgets sooner than the client's 24h
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled,
			Refund: &sandbox.RefundScript{State: sandbox.RefundProcessing, Count: 1, ProcessingMS: int((3 * time.Hour).Milliseconds())}})
		req := credit("c1", "O1", "40.00")
		req.Refs = usedAgo(nil, 0)
		out, err := e.client.Settle(ctx, req)
		if err != nil || out.Kind != providers.Pending {
			t.Fatalf("Settle = %+v, %v", out, err)
		}
		maps.Copy(req.Refs, out.Refs)
		req.Attempt = 2
		e.clock.Add(2 * time.Hour)
		e.faults(t, sandbox.EndpointRefundGet, sandbox.Faults{ErrorNext: 1, ErrorCode: sandbox.CodeRefundNotFound})
		p, err := e.client.Poll(ctx, req)
		es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.EntryRefund, Key: "c1"})
		if p.Kind == providers.Settled || p.Kind == providers.Refused {
			t.Fatalf("Poll = %+v: the verdict of another refund (ledger %+v)", p, es)
		}
		checkErr(t, err, providers.Unresolved, "", out.Ref)
		if len(es) != 2 {
			t.Fatalf("ledger = %+v (the sandbox made a second refund)", es)
		}
	})
	t.Run("read answered with another refund of the charge", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, `{"id":"rf-other","invoice":"O1","state":"failed","error_state":"hard_declined","amount":4000,"currency":"USD"}`)
		}))
		defer srv.Close()
		req := credit("c1", "O1", "40.00")
		req.Refs = map[string]string{"frisbii_refund_id": "rf-mine", "frisbii_charge_handle": "O1"}
		p, err := newClient(t, srv.URL, apiKey).Poll(ctx, req)
		if err == nil {
			t.Fatalf("Poll = %+v: the verdict of refund rf-other for rf-mine", p)
		}
		checkErr(t, err, providers.Transient, "", "rf-mine")
	})
}

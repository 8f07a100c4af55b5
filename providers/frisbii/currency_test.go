package frisbii_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestCreditInAnotherCurrencyThanTheChargeIsRefusedBeforeTheRefund: a
// refund (POST /v1/refund) carries an amount in minor units of the charge's
// currency and no currency of its own, and credits skip ConfirmFunds. Before
// the fix the client never compared the credit's currency with the
// charge's: a JPY 700 credit against a USD charge refunded 700 minor units
// = 7.00 USD and reported S. The charge is now read (GET
// /v1/charge/{handle}) before the refund on every path that sends it
// (Settle, Reconcile, Poll without a refund id) and a credit in another
// currency is refused with nothing refunded: Permanent (R) on a first
// attempt, Unresolved (parked) on a later one, whose earlier attempt an
// older version may have sent unchecked (providers.MismatchBeforeCall), and
// on a Poll: a credit is polled only when a refund was answered processing,
// so one was sent, and the refusal of its repeat is no verdict on it.
func TestCreditInAnotherCurrencyThanTheChargeIsRefusedBeforeTheRefund(t *testing.T) {
	ctx := context.Background()
	settle := func(c *frisbii.Client, r *providers.Request) error {
		_, err := c.Settle(ctx, r)
		return err
	}
	reconcile := func(c *frisbii.Client, r *providers.Request) error {
		r.Attempt = 2
		_, _, err := c.Reconcile(ctx, r)
		return err
	}
	poll := func(c *frisbii.Client, r *providers.Request) error { // no refund id: repeats the refund
		_, err := c.Poll(ctx, r)
		return err
	}
	tests := []struct {
		name     string
		chargeIn string
		amount   string
		currency string
		call     func(*frisbii.Client, *providers.Request) error
		class    providers.Class
	}{
		{"JPY 700 on a USD charge, Settle", "USD", "700", "JPY", settle, providers.Permanent},
		{"JPY 700 on a USD charge, Reconcile (attempt 2)", "USD", "700", "JPY", reconcile, providers.Unresolved},
		{"JPY 700 on a USD charge, Poll", "USD", "700", "JPY", poll, providers.Unresolved},
		{"USD 15.00 on a JPY charge, Settle", "JPY", "15.00", "USD", settle, providers.Permanent},
		{"KWD 1.500 on a USD charge, Settle", "USD", "1.500", "KWD", settle, providers.Permanent},
		{"EUR 7.00 on a USD charge, Reconcile (attempt 2)", "USD", "7.00", "EUR", reconcile, providers.Unresolved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Currency: tc.chargeIn, State: sandbox.StateSettled})
			req := request("cur", "O1", messages.SettlementCredit, tc.amount, tc.currency)
			err := tc.call(e.client, req)
			checkErr(t, err, tc.class, "", "charge O1 is in "+tc.chargeIn+", the credit in "+tc.currency)
			if c := e.sb.Calls(); c.Refund.Total != 0 || c.Charge.Total != 1 {
				t.Fatalf("calls %+v: want one charge read and no refund call", c)
			}
			if ci, _ := e.sb.ChargeInfo("O1"); ci.RefundedAmount != 0 {
				t.Fatalf("refunded %d, want nothing", ci.RefundedAmount)
			}
		})
	}

	t.Run("a failed charge read is transient and sends nothing", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		e.faults(t, sandbox.EndpointCharge, sandbox.Faults{FailNext: 1, FailStatus: 500})
		_, err := e.client.Settle(ctx, credit("cur", "O1", "10.00"))
		checkErr(t, err, providers.Transient, "", "before the refund")
		if !providers.WasNotSent(err) {
			t.Fatalf("err = %v: want NotSent (the refund was not sent)", err)
		}
		if c := e.sb.Calls(); c.Refund.Total != 0 {
			t.Fatalf("calls %+v: want no refund call", c)
		}
		out, err := e.client.Settle(ctx, credit("cur", "O1", "10.00"))
		if err != nil || out.Kind != providers.Settled {
			t.Fatalf("retry = %+v, %v", out, err)
		}
	})

	t.Run("pipeline: a JPY credit on a USD charge ends R, nothing refunded", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		h, rec := pipeline(t, e)
		if err := h.Handle(requestMessageIn(t, "cur-p", "O1", messages.SettlementCredit, "700", "JPY")); err != nil {
			t.Fatal(err)
		}
		st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus))
		if st.SettlementStatus != messages.StatusRejected || !strings.Contains(st.DeclineReason, "charge O1 is in USD, the credit in JPY") {
			t.Fatalf("status = %+v, want R naming USD and JPY", st)
		}
		if es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.EntryRefund}); len(es) != 0 || e.sb.Calls().Refund.Total != 0 {
			t.Fatalf("refund ledger %+v, calls %+v: want no refund", es, e.sb.Calls().Refund)
		}
	})
}

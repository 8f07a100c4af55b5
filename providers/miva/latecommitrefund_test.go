package miva_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestRefundRefusedByItsOwnLateCommitIsNeverR: a refund answered 503 by a
// proxy went on to Miva, which committed it after the retry's
// reconciliation had read the payment list. The retry's Settle then found
// the order refunded by its own first call and ended the request R
// ("exceeds what Miva order 790 has captured and not refunded", or Miva's
// amount_exceeds_refundable) with the refund in the sandbox's ledger. A
// refund record of exactly the amount, new since Prepare's baseline and
// claimed by no other settlement, cannot be told from the request's own:
// parked (Unresolved), never R.
func TestRefundRefusedByItsOwnLateCommitIsNeverR(t *testing.T) {
	tests := []struct {
		name   string
		header string
		second string // a second capture record's amount ("" none)
	}{
		{"the order has nothing left (the worker's check)", "", ""},
		{"the capture has nothing left (Miva's refusal)", "61", "80.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ownLateCommit{
				function: miva.FunctionRefund,
				order:    capturedOf200(790, tc.second),
				header:   tc.header,
				class:    providers.Unresolved,
				reason:   "appeared on order 790",
			}.run(t)
		})
	}
}

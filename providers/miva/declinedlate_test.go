package miva_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestDeclinedBesideItsOwnLateCommitIsNeverR: a capture (refund) answered
// 503 by a proxy went on to Miva, which committed it after the retry's
// reconciliation had read the payment list; the retry's call was then
// declined by the gateway (payment_declined: the authorization it had
// itself emptied). Only amount_exceeds_available, authorization_expired
// and amount_exceeds_refundable were checked against the payment list for
// the request's own late commit: payment_declined ended the request R with
// 50.00 captured (refunded) in the sandbox's ledger. Any refusal beside a
// record of exactly the amount, new since the baseline and claimed by no
// other settlement, is parked (Unresolved), never R; and one whose list
// read fails is transient.
func TestDeclinedBesideItsOwnLateCommitIsNeverR(t *testing.T) {
	tests := []struct {
		name      string
		lc        ownLateCommit
		listFails bool
		class     providers.Class
		reason    string
	}{
		{name: "capture, chosen by the worker", lc: ownLateCommit{function: miva.FunctionCapture, order: authOf50(782)},
			class: providers.Unresolved, reason: "appeared on order 782"},
		{name: "capture, named by a person", lc: ownLateCommit{function: miva.FunctionCapture, order: authOf50(782), header: "70"},
			class: providers.Unresolved, reason: "appeared on order 782"},
		{name: "capture, the list unread", lc: ownLateCommit{function: miva.FunctionCapture, order: authOf50(782)}, listFails: true,
			class: providers.Transient, reason: "could not be read"},
		{name: "refund, chosen by the worker", lc: ownLateCommit{function: miva.FunctionRefund, order: capturedOf200(792, "80.00")},
			class: providers.Unresolved, reason: "appeared on order 792"},
		{name: "refund, named by a person", lc: ownLateCommit{function: miva.FunctionRefund, order: capturedOf200(792, "80.00"), header: "61"},
			class: providers.Unresolved, reason: "appeared on order 792"},
		{name: "refund, the list unread", lc: ownLateCommit{function: miva.FunctionRefund, order: capturedOf200(792, "80.00"), header: "61"},
			// List reads: Prepare, Settle, Reconcile, the retry's Settle,
			// then the one after Miva's refusal, which fails.
			listFails: true, class: providers.Transient, reason: "could not be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lc := tc.lc
			lc.retryCode, lc.class, lc.reason = "payment_declined", tc.class, tc.reason
			lc.listFails = tc.listFails && lc.function == miva.FunctionCapture
			if tc.listFails && lc.function == miva.FunctionRefund {
				lc.slowList, lc.slow = 5, timeout+500*time.Millisecond
			}
			lc.run(t)
		})
	}
}

package miva_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestCaptureRefusedWithTheListUnreadIsNeverR: as in
// TestCaptureRefusedByItsOwnLateCommitIsNeverR, the retry's capture meets
// an authorization the request's own late-committed first call emptied,
// and Miva refuses it (amount_exceeds_available). The payment list read
// that tells such a late commit from someone else's capture failed (a
// 503), and the refusal stood: R with 50.00 captured. A refusal that could
// not be checked is transient (the retry reconciles first), never R.
func TestCaptureRefusedWithTheListUnreadIsNeverR(t *testing.T) {
	for _, header := range []string{"", "70"} {
		t.Run("header "+header, func(t *testing.T) {
			ownLateCommit{
				function:  miva.FunctionCapture,
				order:     authOf50(781),
				header:    header,
				listFails: true,
				class:     providers.Transient,
				reason:    "could not be read",
			}.run(t)
		})
	}
}

// TestRefundRefusedWithTheListUnreadIsNeverR: the refund counterpart. The
// retry's refund meets a capture the request's own late-committed first
// call refunded (amount_exceeds_refundable); the payment list read that
// tells that from someone else's refund timed out, and the refusal stood.
func TestRefundRefusedWithTheListUnreadIsNeverR(t *testing.T) {
	ownLateCommit{
		function: miva.FunctionRefund,
		order:    capturedOf200(791, "80.00"),
		header:   "61",
		// List reads: Prepare, Settle, Reconcile, the retry's Settle, then the
		// one after Miva's refusal, which outlasts the client's timeout.
		slowList: 5,
		slow:     timeout + 500*time.Millisecond,
		class:    providers.Transient,
		reason:   "could not be read",
	}.run(t)
}

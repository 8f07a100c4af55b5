package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A transient provider failure is retried after a delay through the retry
// queue. When the retry copy's publish failed (the broker refusing it, a
// confirm that does not come), the delivery returned an error and the
// router ran the handler again in place, at once: that run counted another
// attempt and called the provider again, and so did the next ones — up to
// four attempts and calls within seconds per delivery, no delay between
// them, and the settlement parked "retries exhausted" after a fraction of
// RETRY_DELAYS. The in-place run of a delivery whose attempt is counted
// and whose retry copy is built only sends that copy again (real broker:
// the retry queue is gone for the first run, back for the second).
func TestRetryCopyWhosePublishFailedIsSentAgainWithoutAnotherAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
	pub, ch := onBroker(ctx, t, top)
	p := newScripted("prov", providers.Facts{})
	busy := providers.TransientError("", "provider busy", nil)
	p.confirmErrs = []error{busy, busy, busy, busy}
	r := newRig(t, p)
	r.h.Pub, r.h.Retry = pub, RetryPolicy{Delays: top.RetryDelays, MaxAttempts: 6}

	retryQueue := broker.RetryQueue("prov", time.Minute)
	if _, err := ch.QueueDelete(retryQueue, false, false, false); err != nil {
		t.Fatal(err)
	}
	runs, err := deliverRetriedInPlace(ctx, t, r.h, pub, top, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	if err != nil {
		t.Fatalf("the delivery failed after its in-place retries (%d runs): %v", runs, err)
	}
	if runs != 2 {
		t.Fatalf("%d runs, want 2 (the first one's retry copy refused)", runs)
	}
	s := r.get(t, "req-1")
	if len(p.confirmAttempts) != 1 || s.Attempts != 1 {
		t.Errorf("after one delivery whose retry copy was refused once: %d ConfirmFunds calls %v, %d attempts recorded; want 1 and 1 (the retry waits RETRY_DELAYS)",
			len(p.confirmAttempts), p.confirmAttempts, s.Attempts)
	}
	q, err := ch.QueueDeclarePassive(retryQueue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != 1 {
		t.Errorf("retry queue holds %d copies, want 1", q.Messages)
	}
}

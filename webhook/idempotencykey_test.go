package webhook

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestRedeliveredStatusKeepsItsIdempotencyKey: docs/amqp.md tells a
// receiver to "drop duplicates on the Idempotency-Key header". The key is
// derived from the batch's message ids, so a batch the receiver processed
// but whose 2xx the deliverer never saw (its answer came after
// WEBHOOK_HTTP_TIMEOUT, or the ack was lost in a restart) is redelivered
// after a restart together with statuses published meanwhile: another
// batch, another key. A receiver doing what the docs say takes the same
// status twice (an S processed twice). Fixing it needs a per-status
// identity in the POST (a header listing the statuses' message ids, or
// docs telling receivers to deduplicate per status): a protocol change,
// left to the maintainers.
func TestRedeliveredStatusKeepsItsIdempotencyKey(t *testing.T) {
	t.Skip("limitation, documented in docs/amqp.md: a status redelivered after a restart is POSTed under another Idempotency-Key; receivers apply statuses idempotently")
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	// The receiver processes the first POST but answers after the timeout.
	r.setDelay(func(n int) time.Duration {
		if n == 1 {
			return 1500 * time.Millisecond
		}
		return 0
	})
	cfg := testConfig(u, r)
	cfg.HTTPTimeout = time.Second
	cfg.RetryInitial, cfg.RetryMax = 5*time.Second, 5*time.Second
	first, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Run(t.Context()) }()
	waitFor(t, 30*time.Second, "the first deliverer", first.Ready)
	p := newPublisher(t, u)
	p.statuses("k1")
	waitFor(t, 10*time.Second, "the first POST processed", func() bool { return len(r.snapshot()) >= 1 })
	_ = first.Close()
	<-done
	p.statuses("k2")
	start(t, cfg)
	waitFor(t, 15*time.Second, "k2", func() bool { return r.accepted()["k2"] >= 1 })

	// A receiver that drops a POST whose Idempotency-Key it has seen.
	seen, taken := map[string]bool{}, map[string]int{}
	for _, post := range r.snapshot() {
		key := post.header.Get(HeaderIdempotencyKey)
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, s := range post.statuses {
			taken[s.OrderID()]++
		}
	}
	if taken["k1"] != 1 {
		t.Fatalf("a receiver deduplicating on Idempotency-Key took k1's status %d times", taken["k1"])
	}
}

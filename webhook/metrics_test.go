package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// The counters start at zero and count what the deliverer did: a failed
// POST, the accepted retry, the delivered statuses, a duplicate and a parked
// message.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	zero := `
# HELP settlement_webhook_posts_total PaymentSettlementStatusList POSTs to the webhook, by result (accepted: 2xx; failed: anything else, retried).
# TYPE settlement_webhook_posts_total counter
settlement_webhook_posts_total{result="accepted"} 0
settlement_webhook_posts_total{result="failed"} 0
# HELP settlement_webhook_statuses_total Status messages the webhook deliverer finished with, by result (delivered, parked, duplicate).
# TYPE settlement_webhook_statuses_total counter
settlement_webhook_statuses_total{result="delivered"} 0
settlement_webhook_statuses_total{result="duplicate"} 0
settlement_webhook_statuses_total{result="parked"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(zero), "settlement_webhook_posts_total", "settlement_webhook_statuses_total"); err != nil {
		t.Fatalf("before any delivery: %v", err)
	}
	var nilMetrics *Metrics // records nothing, does not panic
	nilMetrics.posted(nil)
	nilMetrics.finished("delivered", 1)

	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	r.setAnswer(func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := testConfig(u, r)
	d, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	d.Metrics = m
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	t.Cleanup(func() { _ = d.Close(); <-done })
	waitFor(t, 30*time.Second, "the deliverer to consume", d.Ready)

	p := newPublisher(t, u)
	p.publish("junk-1", []byte("not xml"))
	p.statuses("m1", "m2")
	p.publish("m-m2", status(t, "m2")) // same message_id as m2's
	waitFor(t, 15*time.Second, "the counters", func() bool {
		return testutil.ToFloat64(m.statuses.WithLabelValues("delivered")) == 2 &&
			testutil.ToFloat64(m.statuses.WithLabelValues("duplicate")) == 1 &&
			testutil.ToFloat64(m.statuses.WithLabelValues("parked")) == 1
	})
	if f, a := testutil.ToFloat64(m.posts.WithLabelValues("failed")), testutil.ToFloat64(m.posts.WithLabelValues("accepted")); f != 1 || a < 1 {
		t.Errorf("posts failed %v accepted %v, want 1 and at least 1", f, a)
	}
	if ts := testutil.ToFloat64(m.lastSuccess); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last accepted timestamp %v is not recent", ts)
	}
}

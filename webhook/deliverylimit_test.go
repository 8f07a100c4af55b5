package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestStatusesPastTheDeliveryLimitAreParkedNotDropped: while the webhook is down, every
// deliverer restart (deploy, crash, lost connection, or RabbitMQ's
// consumer_timeout closing the channel of a batch held unacked for 30 min)
// returns the batch to its quorum queue, and each return counts towards
// the queue's delivery-limit — which RabbitMQ 4.0–4.2 sets to 20 on every
// quorum queue by default (README, "Operator commands"). The deliverer's
// queue was a quorum queue with no dead-letter route, so a status over the
// limit was dropped by the broker: never POSTed, never parked. It now
// dead-letters to the parked queue (queueArgs). A policy sets a limit of 2
// here (3.x has no default), standing for the 4.x default of 20.
func TestStatusesPastTheDeliveryLimitAreParkedNotDropped(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	r.setAnswer(func(int) int { return http.StatusServiceUnavailable })
	cfg := testConfig(u, r)
	cfg.QueueType = broker.QueueQuorum
	run := func(until func() bool) {
		d, err := New(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- d.Run(context.Background()) }()
		waitFor(t, 30*time.Second, "the deliverer to consume", d.Ready)
		deadline := time.Now().Add(10 * time.Second)
		for !until() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		_ = d.Close()
		<-done
	}
	// First run declares the queue and its bindings; then a policy gives
	// it a delivery limit of 2, as RabbitMQ 4.0-4.2 give every quorum
	// queue one of 20; then the status is published.
	run(func() bool { return true })
	setDeliveryLimit(t, u, cfg.Queue, 2)
	newPublisher(t, u).statuses("dl1")
	for i := 0; i < 4; i++ { // four restarts during the outage
		n := len(r.snapshot())
		run(func() bool { return len(r.snapshot()) > n })
	}
	r.setAnswer(nil) // the webhook is back
	run(func() bool { return r.accepted()["dl1"] > 0 })
	if r.accepted()["dl1"] == 0 && depth(t, u, cfg.ParkedQueue) == 0 {
		t.Errorf("status dl1 was neither delivered after the outage (%d failed POSTs) nor parked; queue holds %d: dropped by the broker's delivery limit",
			len(r.snapshot()), depth(t, u, cfg.Queue))
	}
}

// setDeliveryLimit applies a delivery-limit policy to queue, in the vhost
// of amqpURL, through the management API.
func setDeliveryLimit(t *testing.T, amqpURL, queue string, limit int) {
	t.Helper()
	au, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	vhost := strings.TrimPrefix(au.Path, "/")
	if v, err := url.PathUnescape(vhost); err == nil {
		vhost = v
	}
	body, _ := json.Marshal(map[string]any{"pattern": "^" + regexp.QuoteMeta(queue) + "$", "apply-to": "queues",
		"definition": map[string]any{"delivery-limit": limit}})
	req, err := http.NewRequest(http.MethodPut, testenv.ManagementURL(t)+"/api/policies/"+url.PathEscape(vhost)+"/webhook-delivery-limit", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("set policy: HTTP %d", resp.StatusCode)
	}
	time.Sleep(time.Second) // policies apply asynchronously
}

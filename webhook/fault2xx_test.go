package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

// TestFaultAnsweredWith2xxIsNotADelivery: a receiver in Radial's style
// answers a failure with a Fault document (the intake's own answers are
// Faults), and some do so with HTTP 200. The deliverer took any 2xx as a
// delivery and acked the batch: the receiver, which said it applied
// nothing, never gets those verdicts, and nothing is left to retry. A 2xx
// whose body is a Fault is a failure: retried, the statuses kept unacked.
func TestFaultAnsweredWith2xxIsNotADelivery(t *testing.T) {
	u := testenv.AMQPURL(t)
	var (
		mu      sync.Mutex
		posts   int
		applied int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		posts++
		w.Header().Set("Content-Type", "application/xml")
		if posts == 1 {
			body, _ := messages.Encode(messages.Fault{Code: "ServiceUnavailable", Description: "database down, nothing applied"})
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
			return
		}
		applied++
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<ok/>"))
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(u, &receiver{srv: srv})
	cfg.URL = srv.URL + "/statuses"
	start(t, cfg)
	newPublisher(t, u).statuses("f1")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := applied > 0
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if applied == 0 {
		t.Fatalf("the receiver answered 200 with a Fault (nothing applied) and the status was never sent again (%d POSTs, queue holds %d): the verdict is lost",
			posts, depth(t, u, cfg.Queue))
	}
}

// A 2xx whose body is anything but a Fault (nothing, text, another
// document, a Fault's name in text) is a delivery, as before.
func TestFaultRoot(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`<Fault xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><Code>X</Code></Fault>`, true},
		{`<?xml version="1.0"?>` + "\n<!-- x -->\n<r:Fault xmlns:r=\"urn:x\"><Code>X</Code></r:Fault>", true},
		{"\xEF\xBB\xBF<Fault/>", true},
		{``, false},
		{`OK`, false},
		{`{"status":"Fault"}`, false},
		{`<AckReply><Received/></AckReply>`, false},
		{`<Ack><Fault/></Ack>`, false},
		{strings.Repeat(" ", 100) + `<Fault/>`, true},
	} {
		if got := isFault([]byte(tc.body)); got != tc.want {
			t.Errorf("isFault(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

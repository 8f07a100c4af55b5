package handlers

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// A provider's asynchronous R whose DeclineReason echoes the provider's
// API key was recorded, republished in our status event (and POSTed to
// the webhook) and logged, key whole: the handler is generic and masked
// only card numbers. The provider's Redact (StatusSource.Redact) is
// applied on the way in; a redelivery of the same R, compared with the
// redacted record, is still the same verdict.
func TestProviderStatusDeclineReasonIsRedacted(t *testing.T) {
	const key = "radial-api-key-0123456789"
	e := newPSEnv(t)
	var logs bytes.Buffer
	e.h.Log = zerolog.New(&logs)
	e.h.Redact = func(s string) string { return strings.ReplaceAll(s, key, "****") }
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	r := statusSpec{cc: e.corr["req-A"], msgID: "m1", verdict: messages.StatusRejected, decline: "apikey " + key + " declined"}
	if err := e.h.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	d, ok := e.get(statusQueue)
	if !ok {
		t.Fatal("no status event published")
	}
	ev, err := messages.DecodeSettlementStatus(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.SettlementStatus != messages.StatusRejected || ev.DeclineReason != "apikey **** declined" {
		t.Errorf("published %s with DeclineReason %q", ev.SettlementStatus, ev.DeclineReason)
	}
	s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != store.StateRefused || strings.Contains(s.DeclineReason, key) {
		t.Errorf("recorded %s with decline reason %q", s.State, s.DeclineReason)
	}
	r.msgID = "m2"
	if err := e.h.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.get(broker.ProviderStatusParkedQueue("radial")); ok {
		t.Error("a repeat of the R was parked")
	}
	if strings.Contains(logs.String(), key) {
		t.Errorf("a log line holds the key:\n%s", logs.String())
	}
}

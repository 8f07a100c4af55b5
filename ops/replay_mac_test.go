package ops_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

// `parked replay` signs each copy it moves with the worker's keys
// (STORE_ENCRYPTION_KEY): a worker with keys resumes a parked settlement
// only for a copy whose signature verifies (broker.HeaderReplayMAC,
// handlers' TestForgedReplayThroughTheDefaultExchangeDoesNotUnpark).
func TestReplaySignsItsCopiesWithTheWorkersKeys(t *testing.T) {
	f := newFixture(t, "")
	keys, err := store.ParseKeyring("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.park("radial", "r-mac", "retries exhausted", 3, 0)
	e := f.env()
	e.Keys = keys
	if err := ops.Replay(f.ctx, e, ops.Filter{Providers: []string{"radial"}}, ops.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	d, ok, err := f.ch.Get(broker.RequestQueue("radial"), true)
	if err != nil || !ok {
		t.Fatalf("nothing replayed (%v)", err)
	}
	replayed, _ := d.Headers[broker.HeaderReplayed].(string)
	mac, _ := d.Headers[broker.HeaderReplayMAC].(string)
	if !keys.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, d.Body), mac) {
		t.Errorf("replayed copy signature %q does not verify (%s %q)", mac, broker.HeaderReplayed, replayed)
	}
	other, _ := store.ParseKeyring("HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=", nil)
	if other.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, d.Body), mac) {
		t.Error("the signature verifies under another key")
	}
	if keys.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, []byte("<other/>")), mac) {
		t.Error("the signature verifies for another body")
	}
}

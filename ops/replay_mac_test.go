package ops_test

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

// `parked replay` signs each copy it moves with the worker's keys
// (STORE_ENCRYPTION_KEY): a worker with keys resumes a parked settlement
// only for a copy whose signature verifies (broker.HeaderReplayMAC,
// handlers' TestForgedReplayThroughTheDefaultExchangeDoesNotUnpark), and
// the signature covers the parking the copy was parked under
// (broker.HeaderParking, kept on the copy): it resumes that parking only
// (handlers' TestReplayResumesOnlyTheParkingItWasMadeFor).
func TestReplaySignsItsCopiesWithTheWorkersKeys(t *testing.T) {
	f := newFixture(t, "")
	keys, err := store.ParseKeyring("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.publish("", broker.ParkedQueue("radial"), amqp.Publishing{MessageId: "msg-r-mac", ContentType: "application/xml", DeliveryMode: amqp.Persistent,
		Headers: amqp.Table{"store_id": "S1", "tender_type": "VC", "parked_reason": "retries exhausted", "parked_from_queue": broker.RequestQueue("radial"),
			broker.HeaderParking: "20261207T140000.000000000Z-0011223344556677"},
		Body: requestXML("r-mac", "O-r-mac")})
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
	parking, _ := d.Headers[broker.HeaderParking].(string)
	if parking != "20261207T140000.000000000Z-0011223344556677" {
		t.Errorf("replayed copy %s = %q, want the parked copy's", broker.HeaderParking, parking)
	}
	if !keys.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, parking, d.Body), mac) {
		t.Errorf("replayed copy signature %q does not verify (%s %q)", mac, broker.HeaderReplayed, replayed)
	}
	if keys.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, "20261207T150000.000000000Z-8899aabbccddeeff", d.Body), mac) {
		t.Error("the signature verifies for another parking")
	}
	other, _ := store.ParseKeyring("HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=", nil)
	if other.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, parking, d.Body), mac) {
		t.Error("the signature verifies under another key")
	}
	if keys.VerifyMAC(broker.ReplayMACInput(d.MessageId, replayed, parking, []byte("<other/>")), mac) {
		t.Error("the signature verifies for another body")
	}
}

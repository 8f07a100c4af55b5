package handlers

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// The settlement handler reads a request by its content type as AMQP
// writes it, case and parameters aside (decodeRequest): "Application/JSON"
// is JSON. The status handler, rebuilding our event from the stored
// request, took only a content type containing "json" for JSON: a request
// stored as "Application/JSON" (or XML stored as "application/xml;
// profile=json") did not decode, and the event was Radial's own status
// with the ClientContext swapped — Radial's Amount as Radial wrote it and
// Radial's payment context instead of the order system's own, and another
// document than the replica that still held the decoded request
// (Requests) published for the same verdict.
func TestOurStatusReadsTheStoredRequestAsTheSettlementHandlerDid(t *testing.T) {
	for _, c := range []struct {
		name string
		json bool
		ct   string
	}{
		{"JSON as Application/JSON", true, "Application/JSON"},
		{"JSON with a charset", true, "application/json; charset=utf-8"},
		{"XML with a parameter naming json", false, "application/xml; profile=json"},
		{"XML as TEXT/XML", false, "TEXT/XML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPSEnv(t)
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged, json: c.json, ct: c.ct})
			// Radial writes the amount its own way.
			if err := e.h.Handle(statusSpec{cc: e.corr["req-A"], amount: "100", msgID: "m1"}.message(t)); err != nil {
				t.Fatal(err)
			}
			d, ok := e.get(statusQueue)
			if !ok {
				t.Fatal("no event")
			}
			st, err := messages.DecodeSettlementStatus(d.Body)
			if err != nil {
				t.Fatal(err)
			}
			if st.Amount.Value != testAmount || st.ClientContext != "cc-A" {
				t.Errorf("event Amount %q, ClientContext %q: want the stored request's %q and %q (not Radial's status)", st.Amount.Value, st.ClientContext, testAmount, "cc-A")
			}
		})
	}
}

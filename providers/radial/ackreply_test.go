package radial_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Radial's ACK reply is <AckReply><Received/></AckReply> (seed 003, HTTP
// Response): Received is what says Radial took the settlement. An
// AckReply without it (an empty one from a gateway or a stub, or one
// that carries only elements we do not know) was taken for an
// acknowledgement: the settlement was recorded acknowledged, never sent
// again, and waited for a status that may never come until
// RADIAL_STATUS_DEADLINE (24 h) parked it. It is now an unexpected reply,
// transient: the retry sends the same requestId, which Radial dedups.
func TestAckReplyWithoutReceivedIsNoAcknowledgement(t *testing.T) {
	for name, body := range map[string]string{
		"empty":             `<AckReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"/>`,
		"unknown elements":  `<AckReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><Queued/></AckReply>`,
		"with Received":     `<AckReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><Received/></AckReply>`,
		"Received and more": `<AckReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><Received/><Extra>1</Extra></AckReply>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			out, err := newClient(t, srv.URL, apiKey).Settle(context.Background(), request("ack-1", "ORD-ACK", "Debit", "10.00", "10.00"))
			acked := name == "with Received" || name == "Received and more"
			switch {
			case acked && (err != nil || out.Kind != providers.Accepted):
				t.Fatalf("Settle = %+v, %v; want Accepted", out, err)
			case !acked && err == nil:
				t.Fatalf("Settle = %+v; an AckReply without Received was taken for an acknowledgement", out)
			case !acked && providers.ClassOf(err) != providers.Transient:
				t.Fatalf("Settle error %v is %v, want transient (retried with the same requestId)", err, providers.ClassOf(err))
			}
		})
	}
}

package handlers

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A JSON request (a supported content type) can carry a NUL byte
// (\u0000) in an identifier the store refuses (ErrInvalidText). Bad input must
// get a clear answer (status R or a parked message with a reason) and the
// delivery must be acked. It came back as an error on every delivery
// (nack, requeue: an endless loop on QUEUE_TYPE=classic, a silent
// delivery-limit dead-letter on quorum), calling the provider each time.
// The JSON decoder now refuses a NUL in any string, as XML cannot carry
// one: the request is parked as unparseable, the provider never called.
func TestJSONRequestWithANULGetsAnAnswer(t *testing.T) {
	cases := map[string]func(r *messages.PaymentSettlementRequest){
		"requestId": func(r *messages.PaymentSettlementRequest) { r.RequestID = "req\x00-1" },
		"orderId":   func(r *messages.PaymentSettlementRequest) { r.PaymentContext.OrderID = "ORD\x00-1" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, newScripted("miva", providers.Facts{}))
			req := testRequest()
			mutate(req)
			body, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), `\u0000`) {
				t.Fatalf("body has no NUL escape: %s", body)
			}
			for i := 1; i <= 3; i++ {
				msg := message.NewMessage("m-"+name, body)
				msg.Metadata.Set(broker.MetaContentType, ContentTypeJSON)
				msg.Metadata.Set(HeaderStoreID, "STORE1")
				msg.Metadata.Set(HeaderTenderType, "VC")
				if err := r.h.HandleSafely(msg); err != nil {
					confirms := len(r.p.confirmAttempts)
					t.Fatalf("delivery %d: Handle returned an error (the message is nacked and requeued, forever on a classic queue; no status, no parked reason); provider ConfirmFunds calls so far: %d: %v", i, confirms, err)
				}
			}
			ms := r.pub.take()
			n := 0
			for _, m := range ms {
				if strings.HasPrefix(m.key, statusQ) || m.key == broker.ParkedQueue("miva") {
					n++
				}
			}
			if n == 0 {
				t.Fatalf("no status event and nothing parked for a bad request")
			}
			if c := len(r.p.confirmAttempts); c != 0 {
				t.Fatalf("the provider was called %d times for a request that cannot be recorded", c)
			}
		})
	}
}

package webhook

import (
	"bytes"
	"context"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
)

// TestStatusIDsHoldingACardNumberAreMaskedInLogs: a status not delivered
// because a later one of its settlement was (an S republished after its
// chargeback R) was logged with its settlement — provider and the
// request_id header, the sender's requestId as sent — and its message_id,
// whole. A card number the sender wrote in its requestId was printed in
// clear. Both are masked in the log line; the deduplication keeps using
// them as sent.
func TestStatusIDsHoldingACardNumberAreMaskedInLogs(t *testing.T) {
	const pan = "4012888888881881"
	for _, written := range []string{pan, "4012 8888 8888 1881", "4012-8888-8888-1881"} {
		t.Run(written, func(t *testing.T) {
			var logs bytes.Buffer
			d, err := New(Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: "http://127.0.0.1:1/hook"}, zerolog.New(&logs))
			if err != nil {
				t.Fatal(err)
			}
			settlement := "radial/req-" + written
			d.recent.add(sent{id: "later", settlement: settlement, seq: 2})
			earlier := amqp.Delivery{MessageId: "msg " + written, Body: []byte("<x/>"),
				Headers: amqp.Table{"provider": "radial", "request_id": "req-" + written, "status_seq": "1"}}
			p, err := d.prepare(context.Background(), []amqp.Delivery{earlier}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.dups != 1 || len(p.ids) != 0 {
				t.Fatalf("the earlier status was not dropped as superseded: %+v", p)
			}
			if l := strings.NewReplacer(" ", "", "-", "").Replace(logs.String()); strings.Contains(l, pan[:10]) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "1881") {
				t.Errorf("the log line does not name the settlement (masked, last four kept):\n%s", logs.String())
			}
		})
	}
}

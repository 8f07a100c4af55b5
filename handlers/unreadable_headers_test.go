package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A request whose header table the AMQP client cannot read (amqp091-go:
// nested deeper than 32 levels, or more than 8192 entries in one table or
// array; RabbitMQ takes it from any publisher) closed the consumer's whole
// connection with a frame error before the handler saw it. The broker
// handed it to the next consumer, which died the same way: the provider's
// consumers reconnected in a loop, every message they had in flight handed
// back and counted towards the delivery limit, the requests behind it
// stalled, forever on a classic queue. The worker's connections read the
// broker's frames through broker.Guard: the message is delivered with the
// unreadable headers named, and parked with that reason; the requests
// behind it are settled (real broker, the worker's subscriber).
func TestRequestWithHeadersTheClientCannotReadIsParked(t *testing.T) {
	for _, qt := range []string{broker.QueueClassic, broker.QueueQuorum} {
		t.Run(qt, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			url := testenv.AMQPURL(t)
			top := broker.Topology{Providers: []string{"prov"}, QueueType: qt, RetryDelays: []time.Duration{time.Minute}, DeliveryLimit: 20,
				StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: "settlement.status.#"}}}
			pub, _, ch := replayBrokerAt(ctx, t, url, top)
			p := newScripted("prov", providers.Facts{Idempotent: true})
			r := newRig(t, p)
			r.h.Pub, r.h.Retry.Delays = pub, top.RetryDelays

			deep := amqp.Table{"leaf": "x"}
			for range 40 {
				deep = amqp.Table{"n": deep}
			}
			wide := make([]any, 9000)
			send := func(id string, extra amqp.Table) {
				req := testRequest()
				req.RequestID = id
				h := amqp.Table{"store_id": "STORE1", "tender_type": "VC"}
				for k, v := range extra {
					h[k] = v
				}
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", broker.RequestQueue("prov"), true, false,
					amqp.Publishing{Headers: h, Body: encodeXML(t, req), ContentType: ContentTypeXML, MessageId: id, DeliveryMode: amqp.Persistent})
				if err != nil || !dc.Wait() {
					t.Fatalf("publish %s: %v", id, err)
				}
			}
			send("req-deep", amqp.Table{"trace": deep})
			send("req-wide", amqp.Table{"tags": wide})
			send("req-ok", nil)

			sub, err := broker.NewSubscriber(ctx, broker.SubscriberConfig{URL: url, Prefetch: 1}, watermill.NopLogger{})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			in, err := sub.Subscribe(ctx, broker.RequestQueue("prov"))
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.After(15 * time.Second)
			for handled := 0; handled < 3; {
				select {
				case msg := <-in:
					if err := r.h.HandleSafely(msg); err != nil {
						t.Errorf("handle %s: %v", msg.UUID, err)
						msg.Nack()
						continue
					}
					msg.Ack()
					handled++
				case <-deadline:
					t.Fatalf("after 15 s, %d of the 3 requests were handled: the consumer keeps failing on the request it cannot read", handled)
				}
			}
			if s := r.get(t, "req-ok"); s.State != "settled" {
				t.Errorf("req-ok %s, want settled", s.State)
			}
			parked := map[string]string{}
			for {
				d, ok, err := ch.Get(broker.ParkedQueue("prov"), true)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				reason, _ := d.Headers[HeaderParkedReason].(string)
				parked[d.MessageId] = reason
			}
			for id, want := range map[string]string{"req-deep": `"trace" (nested deeper than 32 levels)`, "req-wide": `"tags" (an array of more than 8192 elements)`} {
				if !strings.Contains(parked[id], want) {
					t.Errorf("%s parked with reason %q, want it to name %s", id, parked[id], want)
				}
			}
			if _, _, ledger := p.counts(); len(ledger) != 1 || ledger["req-ok"] != 1 {
				t.Errorf("provider ledger %v, want one capture of req-ok", ledger)
			}
			_ = messages.SettlementDebit
		})
	}
}

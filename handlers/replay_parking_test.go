package handlers

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// A replay resumes the parking it was made for, never a later one. A
// signed replay's copy deferred while its order was busy (deferBusy keeps
// its headers, as it must to resume) waited in a retry queue with a valid
// signature; when the settlement was parked again meanwhile (here: the
// broker redelivered the replay, whose ack was lost, and that run parked
// it again), the deferred copy resumed the new parking without a person:
// the provider called again, the retry budget started over. Likewise the
// replay's copy read off the request queue and sent again later. Both
// with STORE_ENCRYPTION_KEY (the signature) and without (the replay
// header alone); a new replay of the new parking resumes it (real broker).
func TestReplayResumesOnlyTheParkingItWasMadeFor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keyed bool
	}{{"signed", true}, {"keyless", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const prov = "replayparking"
			top := broker.Topology{Providers: []string{prov}, RetryDelays: []time.Duration{time.Minute}}
			retryQ := broker.RetryQueue(prov, time.Minute)
			pub, conn, ch := replayBroker(ctx, t, top, broker.RequestQueue(prov), broker.ParkedQueue(prov), retryQ)
			var keys *store.Keyring
			var mac func([]byte) string
			if tc.keyed {
				keys = testKeyring(t)
				mac = keys.MAC
			}
			r, p := busyRig(t, prov, 5, pub, top, 1, keys)
			r.h.LockWait = 50 * time.Millisecond
			replay := func() {
				t.Helper()
				if res, err := broker.ReplayOn(ctx, conn, broker.ReplayOptions{Parked: broker.ParkedQueue(prov), Fallback: broker.RequestQueue(prov), MAC: mac}); err != nil || res.Moved != 1 {
					t.Fatalf("replay: %+v %v", res, err)
				}
			}

			req := testRequest()
			publishRequest(ctx, t, ch, broker.IntakeExchange, broker.RequestRoutingKey(prov), req, "parking-1", nil)
			r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue(prov))) // parked
			if s := r.get(t, req.RequestID); s.ParkedReason == "" {
				t.Fatalf("not parked (%s)", s.State)
			}

			// The operator replays it; its order is busy: deferred.
			replay()
			copyR := nextMessage(ctx, t, ch, broker.RequestQueue(prov))
			saved := copyR.Copy()
			unlock, err := r.st.LockOrder(ctx, prov, "STORE1", req.OrderID())
			if err != nil {
				t.Fatal(err)
			}
			r.deliver(t, copyR)
			unlock()
			deferred := nextMessage(ctx, t, ch, retryQ)
			if len(p.confirmAttempts) != 1 {
				t.Fatalf("ConfirmFunds calls %d while the order was busy, want 1", len(p.confirmAttempts))
			}

			// The deferral's ack was lost: the broker delivers the replay
			// again; it resumes the settlement, fails and parks it again.
			redelivered := saved.Copy()
			redelivered.Metadata.Set(broker.MetaRedelivered, "true")
			r.deliver(t, redelivered)
			again := r.get(t, req.RequestID)
			if again.ParkedReason == "" || len(p.confirmAttempts) != 2 {
				t.Fatalf("the replay: parked %q, ConfirmFunds calls %d, want parked again after 2", again.ParkedReason, len(p.confirmAttempts))
			}

			// The deferred copy comes back from the retry queue; then
			// someone sends the replay's copy read earlier once more.
			r.deliver(t, deferred)
			if s := r.get(t, req.RequestID); s.ParkedReason == "" || s.Attempts != again.Attempts || len(p.confirmAttempts) != 2 {
				t.Fatalf("the deferred copy of a replay resumed the settlement parked again after it: parked %q, attempts %d → %d, ConfirmFunds calls %d (want 2)",
					s.ParkedReason, again.Attempts, s.Attempts, len(p.confirmAttempts))
			}
			headers := amqp.Table{}
			for k, v := range saved.Metadata {
				if k[:min(len(k), 5)] != "amqp_" && k[:min(len(k), 10)] != "_watermill" {
					headers[k] = v
				}
			}
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", broker.RequestQueue(prov), true, false, amqp.Publishing{
				Headers: headers, Body: saved.Payload, ContentType: ContentTypeXML, MessageId: saved.Metadata.Get(broker.MetaMessageID), DeliveryMode: amqp.Persistent})
			if err != nil || !dc.Wait() {
				t.Fatalf("publish: %v", err)
			}
			r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue(prov)))
			if s := r.get(t, req.RequestID); s.ParkedReason == "" || s.Attempts != again.Attempts || len(p.confirmAttempts) != 2 {
				t.Fatalf("the replay's copy, sent again, resumed the settlement parked again after it: parked %q, attempts %d → %d, ConfirmFunds calls %d (want 2)",
					s.ParkedReason, again.Attempts, s.Attempts, len(p.confirmAttempts))
			}

			// The parked queue holds the settlement (its last parking's
			// copy), and the operator's replay of it resumes it.
			if q, err := ch.QueueDeclarePassive(broker.ParkedQueue(prov), true, false, false, false, nil); err != nil || q.Messages != 1 {
				t.Fatalf("parked queue holds %d messages (%v), want 1", q.Messages, err)
			}
			replay()
			r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue(prov)))
			if len(p.confirmAttempts) != 3 {
				t.Errorf("the replay of the new parking did not resume it: ConfirmFunds calls %d, want 3", len(p.confirmAttempts))
			}
		})
	}
}

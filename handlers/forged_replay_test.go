package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Only a replay (`parked replay`, a person's act) resumes a parked
// settlement, with a fresh retry budget; the worker told one by its
// settlement_replayed header, which any publisher can set. An order
// system re-sending a parked request with that header — through the
// intake exchange, where requests come from and where a replay never
// publishes (it moves its copies to the request queue directly) — resumed
// it: the provider called again, the budget started over, and a sender
// re-sending it so could make it retry forever. Such a copy is a
// duplicate, and changes nothing; a real replay still resumes it (real
// broker, the worker's replay).
func TestReplayHeaderFromThePublisherDoesNotUnpark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := testenv.AMQPURL(t)
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
	pub, err := broker.NewPublisher(ctx, url, 2, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := top.Declare(conn); err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	p := newScripted("prov", providers.Facts{})
	busy := providers.TransientError("", "provider busy", nil)
	p.confirmErrs = []error{busy, busy, busy}
	r := newRig(t, p)
	r.h.Pub, r.h.Retry = pub, RetryPolicy{Delays: top.RetryDelays, MaxAttempts: 1}

	req := testRequest()
	publish := func(headers amqp.Table) {
		t.Helper()
		h := amqp.Table{"store_id": "STORE1", "tender_type": "VC"}
		for k, v := range headers {
			h[k] = v
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, broker.IntakeExchange, broker.RequestRoutingKey("prov"), true, false,
			amqp.Publishing{Headers: h, Body: encodeXML(t, req), ContentType: ContentTypeXML, DeliveryMode: amqp.Persistent})
		if err != nil || !dc.Wait() {
			t.Fatalf("publish: %v", err)
		}
	}
	take := func() *message.Message {
		t.Helper()
		return nextMessage(ctx, t, ch, broker.RequestQueue("prov"))
	}

	publish(nil)
	r.deliver(t, take()) // retries exhausted after 1 attempt: parked
	parked := r.get(t, req.RequestID)
	if parked.ParkedReason == "" {
		t.Fatalf("not parked (%s)", parked.State)
	}

	publish(amqp.Table{broker.HeaderReplayed: time.Now().UTC().Format(time.RFC3339)})
	r.deliver(t, take())
	if s := r.get(t, req.RequestID); s.ParkedReason == "" || s.Attempts != parked.Attempts || len(p.confirmAttempts) != 1 {
		t.Fatalf("a publisher's copy with %s resumed the parked settlement: parked %q, attempts %d → %d, ConfirmFunds calls %d (want 1)",
			broker.HeaderReplayed, s.ParkedReason, parked.Attempts, s.Attempts, len(p.confirmAttempts))
	}

	// The operator's replay resumes it.
	res, err := broker.ReplayOn(ctx, conn, broker.ReplayOptions{Parked: broker.ParkedQueue("prov"), Fallback: broker.RequestQueue("prov")})
	if err != nil || res.Moved < 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	r.deliver(t, take())
	if len(p.confirmAttempts) != 2 {
		t.Errorf("the replay did not resume the settlement: ConfirmFunds calls %d, want 2", len(p.confirmAttempts))
	}
}

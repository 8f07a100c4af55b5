package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
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
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
	pub, conn, ch := replayBroker(ctx, t, top)
	r, p := busyRig(t, "prov", 3, pub, top, 1, nil)

	req := testRequest()
	publish := func(headers amqp.Table) {
		t.Helper()
		publishRequest(ctx, t, ch, broker.IntakeExchange, broker.RequestRoutingKey("prov"), req, "", headers)
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

// The replay header was trusted on any copy that came through no exchange:
// a publisher with write access to the default exchange (any, where the
// broker's permissions allow it) could publish a parked request straight
// to its request queue with settlement_replayed and resume it, as a
// person's replay does (the provider called again, the budget started
// over). With STORE_ENCRYPTION_KEY (a secret the worker and its CLI
// share), a replay signs its copy (broker.ReplayOptions.Sign) and the
// worker resumes only a copy whose signature its keys verify; a real
// replay still resumes it (real broker).
func TestForgedReplayThroughTheDefaultExchangeDoesNotUnpark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
	pub, conn, ch := replayBroker(ctx, t, top, broker.RequestQueue("prov"), broker.ParkedQueue("prov"))
	keys := testKeyring(t)
	r, p := busyRig(t, "prov", 3, pub, top, 1, keys)

	req := testRequest()
	publish := func(exchange, key string, headers amqp.Table) {
		t.Helper()
		publishRequest(ctx, t, ch, exchange, key, req, "forged-1", headers)
	}
	take := func() *message.Message {
		t.Helper()
		return nextMessage(ctx, t, ch, broker.RequestQueue("prov"))
	}

	publish(broker.IntakeExchange, broker.RequestRoutingKey("prov"), nil)
	r.deliver(t, take()) // retries exhausted after 1 attempt: parked
	parked := r.get(t, req.RequestID)
	if parked.ParkedReason == "" {
		t.Fatalf("not parked (%s)", parked.State)
	}

	// Straight to the request queue, as a replay publishes, with the
	// replay's headers (the parked copy's parking, and a made-up
	// signature).
	publish("", broker.RequestQueue("prov"), amqp.Table{
		broker.HeaderReplayed: time.Now().UTC().Format(time.RFC3339), broker.HeaderReadyAt: broker.ReadyAt(time.Now()),
		"settlement_replay_mac": "00", broker.HeaderParking: parked.Refs[refParking],
	})
	r.deliver(t, take())
	if s := r.get(t, req.RequestID); s.ParkedReason == "" || s.Attempts != parked.Attempts || len(p.confirmAttempts) != 1 {
		t.Fatalf("a copy published to the request queue with %s resumed the parked settlement: parked %q, attempts %d → %d, ConfirmFunds calls %d (want 1)",
			broker.HeaderReplayed, s.ParkedReason, parked.Attempts, s.Attempts, len(p.confirmAttempts))
	}

	// Not dropped: parked again, saying why (a replay by a CLI without the
	// keys must not lose the parked copy).
	if q, err := ch.QueueDeclarePassive(broker.ParkedQueue("prov"), true, false, false, false, nil); err != nil || q.Messages != 2 {
		t.Fatalf("parked queue holds %d messages (%v), want 2: the parked copy and the unsigned one parked again", q.Messages, err)
	}

	// The operator's replay, signed with the shared key, resumes it.
	if _, err := ch.QueuePurge(broker.RequestQueue("prov"), false); err != nil {
		t.Fatal(err)
	}
	res, err := broker.ReplayOn(ctx, conn, broker.ReplayOptions{Parked: broker.ParkedQueue("prov"), Fallback: broker.RequestQueue("prov"), Limit: 1,
		MAC: keys.MAC})
	if err != nil || res.Moved < 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	r.deliver(t, take())
	if len(p.confirmAttempts) != 2 {
		t.Errorf("the signed replay did not resume the settlement: ConfirmFunds calls %d, want 2", len(p.confirmAttempts))
	}
}

// A signed replay's copy carries a signature good for ever (it signs the
// message id, the replay time and the body, not the parking it resumes):
// when that replay was parked again (its retries exhausted once more), the
// parked copy kept settlement_replayed and settlement_replay_mac, so
// anyone who read it in the parked queue (a tool, the management UI) and
// may publish to the default exchange sent it to the request queue
// unchanged and resumed the settlement parked again, without a person's
// replay: the provider called again, the retry budget started over. A
// parked copy carries no signature; only the CLI's next replay signs it
// (real broker).
func TestParkedCopyOfASignedReplayCannotResumeItAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
	pub, conn, ch := replayBroker(ctx, t, top, broker.RequestQueue("prov"), broker.ParkedQueue("prov"))
	keys := testKeyring(t)
	r, p := busyRig(t, "prov", 3, pub, top, 1, keys)

	req := testRequest()
	publishRequest(ctx, t, ch, broker.IntakeExchange, broker.RequestRoutingKey("prov"), req, "signed-1", nil)
	r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue("prov"))) // parked
	if s := r.get(t, req.RequestID); s.ParkedReason == "" {
		t.Fatalf("not parked (%s)", s.State)
	}

	// The operator's signed replay resumes it; its attempt fails again
	// and it is parked again.
	if res, err := broker.ReplayOn(ctx, conn, broker.ReplayOptions{Parked: broker.ParkedQueue("prov"), Fallback: broker.RequestQueue("prov"), MAC: keys.MAC}); err != nil || res.Moved != 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue("prov")))
	again := r.get(t, req.RequestID)
	if again.ParkedReason == "" || len(p.confirmAttempts) != 2 {
		t.Fatalf("the signed replay: parked %q, ConfirmFunds calls %d, want parked again after 2", again.ParkedReason, len(p.confirmAttempts))
	}

	// Someone takes the parked copy and publishes it, unchanged, to the
	// request queue.
	var d amqp.Delivery
	var err error
	for ctx.Err() == nil {
		var ok bool
		if d, ok, err = ch.Get(broker.ParkedQueue("prov"), true); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", broker.RequestQueue("prov"), true, false, amqp.Publishing{
		Headers: d.Headers, Body: d.Body, ContentType: d.ContentType, MessageId: d.MessageId, DeliveryMode: amqp.Persistent})
	if err != nil || !dc.Wait() {
		t.Fatalf("publish: %v", err)
	}
	r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue("prov")))
	if s := r.get(t, req.RequestID); s.ParkedReason == "" || s.Attempts != again.Attempts || len(p.confirmAttempts) != 2 {
		t.Fatalf("the parked copy of a signed replay, published again to the request queue, resumed the settlement: parked %q, attempts %d → %d, ConfirmFunds calls %d (want 2); its headers: %s %v, %s %v",
			s.ParkedReason, again.Attempts, s.Attempts, len(p.confirmAttempts),
			broker.HeaderReplayed, d.Headers[broker.HeaderReplayed], broker.HeaderReplayMAC, d.Headers[broker.HeaderReplayMAC] != nil)
	}
}

// The worker's retry copies of a signed replay kept its signature too:
// one read from a retry queue, its attempt headers removed and sent to
// the request queue unchanged otherwise, resumed the settlement once that
// replay was parked again, without a person's replay. A retry or poll
// copy is the worker's own (never a replay), and carries no replay marks
// (real broker).
func TestRetryCopyOfASignedReplayCannotResumeItAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute}}
	retryQ := broker.RetryQueue("prov", time.Minute)
	pub, conn, ch := replayBroker(ctx, t, top, broker.RequestQueue("prov"), broker.ParkedQueue("prov"), retryQ)
	keys := testKeyring(t)
	r, p := busyRig(t, "prov", 6, pub, top, 2, keys)

	req := testRequest()
	publishRequest(ctx, t, ch, broker.IntakeExchange, broker.RequestRoutingKey("prov"), req, "signed-2", nil)
	r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue("prov"))) // attempt 1: retry copy
	r.deliver(t, nextMessage(ctx, t, ch, retryQ))                      // attempt 2: parked
	if s := r.get(t, req.RequestID); s.ParkedReason == "" {
		t.Fatalf("not parked (%s)", s.State)
	}

	// The signed replay resumes it: its attempt fails (a retry copy),
	// the retry fails and it is parked again.
	if res, err := broker.ReplayOn(ctx, conn, broker.ReplayOptions{Parked: broker.ParkedQueue("prov"), Fallback: broker.RequestQueue("prov"), MAC: keys.MAC}); err != nil || res.Moved != 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue("prov")))
	retry := nextMessage(ctx, t, ch, retryQ)
	saved := retry.Copy()
	r.deliver(t, retry)
	again := r.get(t, req.RequestID)
	calls := len(p.confirmAttempts)
	if again.ParkedReason == "" || calls != 4 {
		t.Fatalf("the signed replay: parked %q, ConfirmFunds calls %d, want parked again after 4", again.ParkedReason, calls)
	}

	// Someone sends the retry copy read earlier, without its attempt
	// headers, to the request queue.
	headers := amqp.Table{}
	for k, v := range saved.Metadata {
		if !strings.HasPrefix(k, "amqp_") && !strings.HasPrefix(k, "_watermill_") && k != HeaderAttempt && k != HeaderLastError && k != HeaderPoll {
			headers[k] = v
		}
	}
	headers[broker.HeaderReadyAt] = broker.ReadyAt(time.Now())
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", broker.RequestQueue("prov"), true, false, amqp.Publishing{
		Headers: headers, Body: saved.Payload, ContentType: ContentTypeXML, MessageId: saved.Metadata.Get(broker.MetaMessageID), DeliveryMode: amqp.Persistent})
	if err != nil || !dc.Wait() {
		t.Fatalf("publish: %v", err)
	}
	r.deliver(t, nextMessage(ctx, t, ch, broker.RequestQueue("prov")))
	if s := r.get(t, req.RequestID); s.ParkedReason == "" || s.Attempts != again.Attempts || len(p.confirmAttempts) != calls {
		t.Fatalf("a retry copy of a signed replay, its attempt headers removed, resumed the settlement: parked %q, attempts %d → %d, ConfirmFunds calls %d (want %d); its %s %v",
			s.ParkedReason, again.Attempts, s.Attempts, len(p.confirmAttempts), calls, broker.HeaderReplayMAC, headers[broker.HeaderReplayMAC] != nil)
	}
}

// replayBroker is onBroker with the test's channel in confirm mode and the
// connection a replay (broker.ReplayOn) runs on, the publisher's.
func replayBroker(ctx context.Context, t *testing.T, top broker.Topology, purge ...string) (*broker.Publisher, *amqp.Connection, *amqp.Channel) {
	t.Helper()
	return replayBrokerAt(ctx, t, testenv.AMQPURL(t), top, purge...)
}

// replayBrokerAt is replayBroker on the broker (vhost) at u (onBrokerAt).
func replayBrokerAt(ctx context.Context, t *testing.T, u string, top broker.Topology, purge ...string) (*broker.Publisher, *amqp.Connection, *amqp.Channel) {
	t.Helper()
	pub, ch := onBrokerAt(ctx, t, u, top, purge...)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	conn, err := pub.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pub, conn, ch
}

// busyRig is a rig whose provider prov answers its first n ConfirmFunds
// "provider busy" (transient), publishing with pub, a retry budget of
// attempts on top's delays and the replay keys keys (nil: none).
func busyRig(t *testing.T, prov string, n int, pub *broker.Publisher, top broker.Topology, attempts int, keys *store.Keyring) (*rig, *scripted) {
	t.Helper()
	p := newScripted(prov, providers.Facts{})
	busy := providers.TransientError("", "provider busy", nil)
	for range n {
		p.confirmErrs = append(p.confirmErrs, busy)
	}
	r := newRig(t, p)
	r.h.Pub, r.h.Retry, r.h.ReplayKeys = pub, RetryPolicy{Delays: top.RetryDelays, MaxAttempts: attempts}, keys
	return r, p
}

// publishRequest publishes req as an order system sends it (XML,
// persistent, headers store_id STORE1 and tender_type VC, then headers)
// with message id msgID ("": none) to exchange with key on ch, a channel
// in confirm mode, and waits for the broker's confirm.
func publishRequest(ctx context.Context, t *testing.T, ch *amqp.Channel, exchange, key string, req *messages.PaymentSettlementRequest, msgID string, headers amqp.Table) {
	t.Helper()
	h := amqp.Table{"store_id": "STORE1", "tender_type": "VC"}
	for k, v := range headers {
		h[k] = v
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false,
		amqp.Publishing{Headers: h, Body: encodeXML(t, req), ContentType: ContentTypeXML, DeliveryMode: amqp.Persistent, MessageId: msgID})
	if err != nil || !dc.Wait() {
		t.Fatalf("publish: %v", err)
	}
}

// testKeyring is a STORE_ENCRYPTION_KEY keyring for the signed replays.
func testKeyring(t *testing.T) *store.Keyring {
	t.Helper()
	keys, err := store.ParseKeyring("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/providers"
)

// The broker delivers a message whose headers fill its frame (131072
// bytes: RabbitMQ's frame_max, which one AMQP header frame must fit), or
// whose headers the worker's copy writes longer than they came (a decimal
// or a timestamp becomes text). Every copy the worker made of it — parked,
// retried — carried its headers plus the worker's own, one frame too
// large: the broker closed the whole publishing connection (501
// FRAME_ERROR), with every publish in flight on it, three times per
// publish, and the publish failed as a lost connection. The message was
// handed back and came again, each time: a provider status (retried in
// place, forever) or a request (until the delivery limit) was never
// parked with a reason, and every other publish of the worker kept losing
// its connection. It must be parked once, its body intact, saying which
// headers its copy could not carry, with the publishing connection left
// alone.
func TestMessageWithHeadersFillingTheFrameIsParked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	big := func(body string) *message.Message {
		m := message.NewMessage("m-big", []byte(body))
		m.Metadata.Set("pad", strings.Repeat("a", 130_900))
		m.Metadata.Set("small", "kept")
		return m
	}
	cases := []struct {
		name   string
		parked string
		handle func(Publisher, *message.Message) error
	}{
		{"provider status", broker.ProviderStatusParkedQueue("radial"), func(pub Publisher, m *message.Message) error {
			h := &ProviderStatus{Provider: "radial", Queue: radialQueue, Pub: pub, Log: zerolog.Nop()}
			return h.Handle(m)
		}},
		{"request", broker.ParkedQueue("miva"), func(pub Publisher, m *message.Message) error {
			h := &Settlement{Provider: newScripted("miva", providers.Facts{}), Pub: pub, Log: zerolog.Nop()}
			return h.Handle(m)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top := broker.Topology{Providers: []string{"miva"}, ParkProviderStatuses: []string{"radial"}}
			pub, ch := onBroker(ctx, t, top, tc.parked)
			before, err := pub.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Such a message is deliverable: it fits a frame.
			if err := pub.Publish(ctx, "", tc.parked, big("as received")); err != nil {
				t.Fatalf("the message as received does not fit a frame: %v", err)
			}
			if _, err := ch.QueuePurge(tc.parked, false); err != nil {
				t.Fatal(err)
			}
			before, err = pub.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.handle(pub, big("<not xml")) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Handle: %v (handed back: it comes again, and again)", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Handle still running after 30s")
			}
			if after, err := pub.Conn(ctx); err != nil || after != before {
				t.Errorf("the publishing connection was lost (every publish in flight on it with it): %v", err)
			}
			d, ok, err := ch.Get(tc.parked, true)
			if err != nil || !ok {
				t.Fatalf("nothing parked in %s (%v)", tc.parked, err)
			}
			if string(d.Body) != "<not xml" {
				t.Errorf("parked body %q", d.Body)
			}
			reason, _ := d.Headers[HeaderParkedReason].(string)
			if !strings.Contains(reason, "pad") || !strings.Contains(reason, "frame") {
				t.Errorf("parked reason does not name the header its copy could not carry: %q", reason)
			}
			if d.Headers["small"] != "kept" {
				t.Errorf("header small: %v, want kept", d.Headers["small"])
			}
			if _, ok := d.Headers["pad"]; ok {
				t.Error("header pad parked, though it could not be")
			}
		})
	}
}

// A request whose headers nearly fill the broker's frame, whose attempt
// fails for a while (the provider down): its retry copy, the worker's
// retry headers added, cannot be sent (broker.HeadersTooLargeError), and
// the delivery was handed back: delivered again at once, it called the
// provider again at once, over and over, until its attempts ran out (a
// pending one, whose polls count none, until the delivery limit; forever
// without one). The settlement is parked at the first retry it cannot
// schedule, saying why; the provider is called once.
func TestRetryCopyThatCannotBeSentParksTheSettlement(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := newRig(t, newScripted("miva", providers.Facts{}))
	top := broker.Topology{Providers: []string{"miva"}, RetryDelays: r.h.Retry.Delays}
	pub, ch := onBroker(ctx, t, top, broker.ParkedQueue("miva"))
	r.h.Pub = pub
	r.p.confirmErrs = []error{providers.TransientError("", "provider down", nil)}
	// Headers that leave 10 bytes of the frame free.
	msg := requestMsg(t, "req-frame", "Debit", map[string]string{"pad": "-"})
	p, _ := broker.Marshaler{}.Marshal(msg)
	msg.Metadata.Set("pad", strings.Repeat("a", broker.DefaultFrameMax-8-broker.HeaderFrameBytes(p)-10))
	done := make(chan error, 1)
	go func() { done <- r.h.HandleSafely(msg) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Handle: %v (handed back: delivered again at once, the provider called again)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Handle still running after 30s")
	}
	if n := len(r.p.confirmAttempts); n != 1 {
		t.Errorf("ConfirmFunds called %d times, want 1", n)
	}
	d, ok, err := ch.Get(broker.ParkedQueue("miva"), true)
	if err != nil || !ok {
		s := r.get(t, "req-frame")
		t.Fatalf("nothing parked (%v); settlement %s, attempts %d", err, s.State, s.Attempts)
	}
	reason, _ := d.Headers[HeaderParkedReason].(string)
	if !strings.Contains(reason, "retry") || !strings.Contains(reason, "frame") {
		t.Errorf("parked reason %q does not say its retry copy could not be sent", reason)
	}
	if s := r.get(t, "req-frame"); s.ParkedReason == "" {
		t.Errorf("settlement %s not parked", s.State)
	}
}

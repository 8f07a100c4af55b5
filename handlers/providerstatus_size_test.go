package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// Provider statuses had no size limit (MAX_REQUEST_BYTES bounds requests
// only): a status body of a few MB of nested elements — well-formed as
// far as it goes — was decoded in the keyed subscriber's delivery loop
// (StatusOrderKey), a second of a core per MB while no status of any
// order was handed out, and the decoder's stack of open elements grew
// with it (RabbitMQ takes messages up to 128 MB). A status above MaxBytes
// is now keyed and parked unread, naming the limit.
func TestProviderStatusAboveMaxBytesIsParkedUnread(t *testing.T) {
	e := newPSEnv(t)
	e.h.MaxBytes = 1 << 20
	decodes := countDecodes(t)
	body := `<PaymentSettlementStatus xmlns="http://api.gsicommerce.com/schema/checkout/1.0">` + strings.Repeat("<a>", 3<<20/3)
	msg := message.NewMessage("m-huge", []byte(body))
	start := time.Now()
	key := e.h.OrderKey(msg)
	if err := e.h.Handle(msg); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("keyed and handled in %s", d.Round(time.Millisecond))
	}
	if key != "" {
		t.Errorf("key %q", key)
	}
	if n := decodes.Load(); n != 0 {
		t.Errorf("decoded %d times, want unread", n)
	}
	d, ok := e.get(broker.ProviderStatusParkedQueue("radial"))
	if !ok {
		t.Fatal("not parked")
	}
	if reason, _ := d.Headers[HeaderParkedReason].(string); !strings.Contains(reason, "MAX_REQUEST_BYTES") {
		t.Errorf("parked reason %q does not name MAX_REQUEST_BYTES", reason)
	}
	if len(d.Body) != len(body) {
		t.Errorf("parked body of %d bytes, want %d", len(d.Body), len(body))
	}
}

// The keyed subscriber calls OrderKey in its delivery loop, outside
// HandleSafely: a decoder panic on some status (the bug HandleSafely
// parks a message for) ended the process there, and every replica in
// turn as the status was redelivered to it. OrderKey keys such a status
// "" and leaves it to the handler, which parks it with the panic.
func TestProviderStatusOrderKeyPanicIsParkedByTheHandler(t *testing.T) {
	e := newPSEnv(t)
	orig := decodeStatus
	decodeStatus = func([]byte) (*messages.PaymentSettlementStatus, error) { panic("decoder bug") }
	t.Cleanup(func() { decodeStatus = orig })
	msg := statusSpec{cc: "cc-X"}.message(t)
	var key string
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("OrderKey panicked (in the keyed subscriber's delivery loop: the process ends): %v", r)
			}
		}()
		key = e.h.OrderKey(msg)
	}()
	if key != "" {
		t.Errorf("key %q", key)
	}
	if err := e.h.HandleSafely(msg); err != nil {
		t.Fatalf("HandleSafely: %v", err)
	}
	d, ok := e.get(broker.ProviderStatusParkedQueue("radial"))
	if !ok {
		t.Fatal("not parked")
	}
	if reason, _ := d.Headers[HeaderParkedReason].(string); !strings.Contains(reason, "decoder bug") {
		t.Errorf("parked reason %q does not carry the panic", reason)
	}
}

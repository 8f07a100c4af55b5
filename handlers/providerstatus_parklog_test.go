package handlers

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
)

// ProviderStatus.park is the one way out for a status a person must see:
// like Settlement.park, it masks a card number in the reason it logs, not
// only in the parked copy's header (parkMessage). Its callers mask their
// reasons today; the log line must not depend on every future one doing so.
func TestProviderStatusParkLogsNoCardNumber(t *testing.T) {
	var logs bytes.Buffer
	pub := &recPub{}
	h := &ProviderStatus{Provider: "radial", Queue: "q.status.radial", Pub: pub, Log: zerolog.New(&logs)}
	msg := message.NewMessage("m-1", []byte("<x/>"))
	if err := h.park(context.Background(), msg, "status names card 4111111111111111", h.Log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "4111111111111111") {
		t.Fatalf("the park's log line holds the card number: %s", logs.String())
	}
	for _, m := range pub.take() {
		if strings.Contains(m.msg.Metadata.Get(HeaderParkedReason), "4111111111111111") {
			t.Fatalf("the parked copy's reason holds the card number: %q", m.msg.Metadata.Get(HeaderParkedReason))
		}
	}
}

package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A status event's routing key and its correlation_id property are AMQP
// short strings: at most 255 bytes. A store_id header of 100 characters
// (what the schema allows) is up to 400 bytes, and an invalid request's
// requestId (refused with R) any length. The publish of such an event
// failed ("shortstr exceeds 255 bytes") and took the publisher's
// connection down with it: the verdict, recorded with the settlement
// (money moved, for a valid debit), was never published; every
// redelivery failed the same way until the delivery limit, and the
// outbox relay failed on it round after round, never reaching the events
// recorded after it. Judged from the real broker's status queue and the
// provider's ledger.
func TestStatusEventWithLongStoreOrRequestIDIsPublished(t *testing.T) {
	cases := []struct {
		name       string
		requestID  string
		storeID    string
		wantStatus string
		wantLedger int
	}{
		{"store_id of 80 three-byte characters: settled, S published", "req-1", strings.Repeat("店", 80), messages.StatusSettled, 1},
		{"store_id of 100 four-byte characters: settled, S published", "req-2", strings.Repeat("😀", 100), messages.StatusSettled, 1},
		{"requestId of 300 characters: refused, R published", strings.Repeat("r", 300), "STORE1", messages.StatusRejected, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Second},
				StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: "settlement.status.#"}}}
			pub, ch := onBroker(ctx, t, top)

			p := newScripted("prov", providers.Facts{Idempotent: true})
			r := newRig(t, p)
			r.h.Pub = pub
			if err := r.h.HandleSafely(requestMsg(t, tc.requestID, messages.SettlementDebit, map[string]string{HeaderStoreID: tc.storeID})); err != nil {
				t.Errorf("Handle: %v", err)
			}
			var got []amqp.Delivery
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end) && len(got) == 0; time.Sleep(50 * time.Millisecond) {
				if d, ok, err := ch.Get(statusQueue, true); err != nil {
					t.Fatal(err)
				} else if ok {
					got = append(got, d)
				}
			}
			if _, _, ledger := p.counts(); ledger[tc.requestID] != tc.wantLedger {
				t.Errorf("ledger %v, want %d capture(s)", ledger[tc.requestID], tc.wantLedger)
			}
			if len(got) != 1 {
				evs, _ := r.st.Statuses(ctx, store.Key{Provider: "prov", RequestID: tc.requestID})
				t.Fatalf("%d status events on the status queue, want 1 (%d recorded, settlement %s)", len(got), len(evs), r.get(t, tc.requestID).State)
			}
			d := got[0]
			if s := d.Headers[HeaderSettlementStatus]; s != tc.wantStatus {
				t.Errorf("settlement_status %v, want %s", s, tc.wantStatus)
			}
			if s := d.Headers[HeaderStoreID]; s != tc.storeID {
				t.Errorf("store_id header %q, want the store's whole id", s)
			}
			if s := d.Headers[HeaderRequestID]; s != tc.requestID {
				t.Errorf("request_id header %q, want the whole requestId", s)
			}
			if !strings.Contains(string(d.Body), "<StoreId>"+tc.storeID+"</StoreId>") {
				t.Errorf("status body does not carry the store id: %s", d.Body)
			}
		})
	}
}

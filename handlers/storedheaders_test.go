package handlers

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A card number a sender wrote in a header that steers no money (a note,
// a debugging header) was stored as it came, in the clear, in the
// settlement's headers column, which STORE_ENCRYPTION_KEY does not seal
// and retention does not empty: card data kept at rest for good. The
// headers that steer money are kept as sent (the identity of a duplicate
// and the sweeper's re-drive compare and send them), and a re-driven
// request is settled as before.
func TestCardNumbersInHeadersAreNotStoredInClear(t *testing.T) {
	for _, tc := range []struct {
		name, header, value string
	}{
		{"note header", "x-note", "card " + leakPAN},
		{"note header, spaced", "X-Debug", "card " + spacedPAN},
		{"note header, dashed", "comment", dashedPAN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("miva", providers.Facts{MoneyHeaders: []string{"payment_record"}})
			r := newRig(t, p)
			msg := requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{
				tc.header: tc.value, "payment_record": "7", HeaderOriginalAuthAmount: "100.00",
			})
			r.deliver(t, msg)
			only(t, r.pub.take(), statusQ)
			s := r.get(t, "req-1")
			if s.State != store.StateSettled {
				t.Fatalf("state %s", s.State)
			}
			for k, v := range s.Headers {
				if leaks(v) || leaks(k) {
					t.Errorf("stored header %s holds the card number: %q", k, v)
				}
			}
			if s.Headers[tc.header] == "" {
				t.Errorf("stored header %s is gone: %v", tc.header, s.Headers)
			}
			for k, want := range map[string]string{"payment_record": "7", HeaderOriginalAuthAmount: "100.00", HeaderStoreID: "STORE1", HeaderTenderType: "VC"} {
				if got := s.Headers[k]; got != want {
					t.Errorf("money header %s stored as %q, want %q", k, got, want)
				}
			}
			// The same request again is a duplicate (no mismatch parks it).
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{
				tc.header: tc.value, "payment_record": "7", HeaderOriginalAuthAmount: "100.00",
			}))
			only(t, r.pub.take(), statusQ)
			if _, _, ledger := p.counts(); ledger["req-1"] != 1 {
				t.Errorf("ledger %d captures, want 1", ledger["req-1"])
			}
			if st, _ := r.st.Get(context.Background(), store.Key{Provider: "miva", RequestID: "req-1"}); st.ParkedReason != "" {
				t.Errorf("the duplicate was parked: %s", st.ParkedReason)
			}
		})
	}
}

// A card number a sender wrote in the request's ClientContext was stored
// as it came, in the clear, in the settlement's client_context column,
// which STORE_ENCRYPTION_KEY does not seal and retention does not empty.
// Our status event still echoes the ClientContext as sent: it is rebuilt
// from the (sealed) request body.
func TestCardNumbersInClientContextAreNotStoredInClear(t *testing.T) {
	for _, cc := range []string{"card " + leakPAN, spacedPAN, "ref-" + dashedPAN} {
		t.Run(cc, func(t *testing.T) {
			r := newRig(t, newScripted("miva", providers.Facts{}))
			req := testRequest()
			req.ClientContext = cc
			msg := requestMsg(t, "req-1", messages.SettlementDebit, nil)
			msg.Payload = encodeXML(t, req)
			r.deliver(t, msg)
			ev := only(t, r.pub.take(), statusQ)
			st, err := messages.DecodeSettlementStatus(ev.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if st.ClientContext != cc {
				t.Errorf("status echoes ClientContext %q, want %q as sent", st.ClientContext, cc)
			}
			if s := r.get(t, "req-1"); leaks(s.ClientContext) || s.ClientContext == "" {
				t.Errorf("stored ClientContext %q holds the card number (or is gone)", s.ClientContext)
			}
		})
	}
}

package frisbii_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// jsonRequest is a JSON debit of 40.00 USD on order O1 whose one line item
// has the description desc (JSON string text, escapes allowed).
func jsonRequest(id, uuid, desc string) *message.Message {
	body := `{"requestId":"` + id + `","paymentContextBase":{"orderId":"O1"},"invoiceId":"I1",` +
		`"amount":{"currencyCode":"USD","value":"40.00"},"taxAmount":{"currencyCode":"USD","value":"0.00"},"settlementType":"Debit",` +
		`"invoiceData":{"lineItems":{"lineItem":[{"itemId":"A","quantity":"1","itemShortDescription":"` + desc + `",` +
		`"vatInclusiveUnitPrice":{"currencyCode":"USD","value":"40.00"}}]}}}`
	msg := message.NewMessage(uuid, []byte(body))
	msg.Metadata.Set(broker.MetaContentType, handlers.ContentTypeJSON)
	msg.Metadata.Set(handlers.HeaderStoreID, "STORE1")
	msg.Metadata.Set(handlers.HeaderTenderType, "VC")
	return msg
}

// TestJSONDuplicateDifferingInAControlCharacter: two JSON requests under
// one requestId whose line item descriptions differ in a control character
// XML cannot carry (U+0001, U+0002) are different requests (Frisbii is sent
// each description as it is), but the fingerprint, an XML encoding, wrote
// both as U+FFFD and took the second for the first. Neither may reach a
// verdict by the other's settle: the duplicate must not publish a status,
// and the charge is settled once. Judged from the sandbox's ledger.
func TestJSONDuplicateDifferingInAControlCharacter(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	h, rec := pipeline(t, e)
	crashed := false
	h.Crash = func(point string) {
		if point == handlers.CrashAfterSettleCall && !crashed {
			crashed = true
			panic("crash")
		}
	}
	first := jsonRequest("jc1", "m-jc1", `Shirt\u0001`)
	func() {
		defer func() { _ = recover() }()
		_ = h.Handle(first)
	}()
	if settled := e.settled(t, "O1"); crashed && settled != 4000 {
		t.Fatalf("crashed %v, O1 settled %d", crashed, settled)
	}
	if err := h.Handle(jsonRequest("jc1", "m-jc1-dup", `Shirt\u0002`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range rec.msgs {
		if m.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
			st := statusOf(t, m.msg)
			if st.SettlementStatus != messages.StatusSettled || e.settled(t, "O1") != 4000 {
				t.Fatalf("a status was published for the duplicate: %s (O1 settled %d)", m.msg.Payload, e.settled(t, "O1"))
			}
		}
	}
	if e.settled(t, "O1") > 4000 || len(e.sb.Ledger()) > 1 {
		t.Fatalf("O1 settled %d; ledger %+v", e.settled(t, "O1"), e.sb.Ledger())
	}
}

package handlers

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// TestDecimalAuthorizationAmountHeaderIsItsAmount: an order system that
// sends original_authorization_amount as an AMQP decimal (the field type
// AMQP has for amounts: 120.00 is scale 2, value 12000, as amqp091 decodes
// it off the wire) had it stringified as "12000e-2", which the amount
// parser refuses: a valid debit ended R "invalid request: header
// original_authorization_amount "12000e-2" is not a decimal amount", naming
// a value the sender never wrote. It is the decimal it carries.
func TestDecimalAuthorizationAmountHeaderIsItsAmount(t *testing.T) {
	for _, tc := range []struct {
		name string
		dec  amqp.Decimal
		want string
	}{
		{"scale 2", amqp.Decimal{Scale: 2, Value: 12000}, "120.00"},
		{"scale 0", amqp.Decimal{Scale: 0, Value: 120}, "120.00"},
		{"scale 1", amqp.Decimal{Scale: 1, Value: 1205}, "120.50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("miva", providers.Facts{})
			var auth string
			p.onSettle = func(req *providers.Request) { auth = req.AuthorizationAmount.String() }
			r := newRig(t, p)
			msg, err := broker.Marshaler{}.Unmarshal(amqp.Delivery{
				MessageId: "m-dec", ContentType: ContentTypeXML, Body: encodeXML(t, testRequest()),
				Headers: amqp.Table{HeaderStoreID: "STORE1", HeaderTenderType: "VC", HeaderOriginalAuthAmount: tc.dec},
			})
			if err != nil {
				t.Fatal(err)
			}
			r.deliver(t, msg)
			st, err := messages.DecodeSettlementStatus(only(t, r.pub.take(), statusQ).Payload)
			if err != nil {
				t.Fatal(err)
			}
			if st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("status %s %q, want S", st.SettlementStatus, st.DeclineReason)
			}
			if auth != tc.want {
				t.Errorf("authorization amount %q, want %s", auth, tc.want)
			}
		})
	}
}

package ops_test

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

// A parked request whose store_id header holds a card number (a sender's
// mistake the worker records as sent, since the header steers money): parked
// ls --json printed it whole as the message's store_id. It is masked
// there, as everywhere the operator commands print.
func TestListMasksACardNumberInTheStoreID(t *testing.T) {
	const card = "4012888888881881"
	f := newFixture(t, "")
	f.publish("", broker.ParkedQueue("paysafe"), amqp.Publishing{MessageId: "msg-p9", ContentType: "application/xml",
		DeliveryMode: amqp.Persistent, Body: requestXML("p9", "O-p9"), Headers: amqp.Table{
			"store_id": "store " + card, "authorization_id": card, "parked_reason": "requestId \"p9\" was recorded with header authorization_id \"************1881\"",
			"parked_at": now.Add(-time.Hour).Format(time.RFC3339), "parked_from_queue": broker.RequestQueue("paysafe")}})
	for _, asJSON := range []bool{true, false} {
		f.reset()
		if err := ops.List(f.ctx, f.env(), ops.Filter{}, asJSON); err != nil {
			t.Fatal(err)
		}
		if out := f.out.String(); strings.Contains(out, card[:10]) {
			t.Errorf("parked ls (json %v) shows the card number:\n%s", asJSON, out)
		} else if asJSON && !strings.Contains(out, "store ************1881") {
			t.Errorf("parked ls --json lacks the masked store_id:\n%s", out)
		}
	}
}

// show and stuck printed a store_id holding a card number whole (the
// store_id column keeps the header as sent: it is compared and selected
// on). Both mask it.
func TestShowAndStuckMaskACardNumberInTheStoreID(t *testing.T) {
	const card = "4012888888881881"
	f := newFixture(t, "")
	registerStuckP9(t, f, card, "O-p9")
	checkCommandsMask(t, f, card, "************1881", "store_id", map[string]func(asJSON bool) error{
		"show":  func(asJSON bool) error { return ops.Show(f.ctx, f.env(), "p9", nil, asJSON) },
		"stuck": func(asJSON bool) error { return ops.Stuck(f.ctx, f.env(), nil, nil, time.Hour, asJSON) },
	})
}

// registerStuckP9 records settlement paysafe/p9 of store storeID and
// order orderID three hours ago (stuck past an hour), then sets the
// clock back to now.
func registerStuckP9(t *testing.T, f *fixture, storeID, orderID string) {
	t.Helper()
	f.setClock(now.Add(-3 * time.Hour))
	if _, _, err := f.st.Register(f.ctx, store.Settlement{
		Key: store.Key{Provider: "paysafe", RequestID: "p9"}, Fingerprint: "fp-p9", StoreID: storeID, OrderID: orderID,
		TenderType: "VC", SettlementType: "Debit", Amount: "100.00", Currency: "USD",
		Request: requestXML("p9", orderID), ContentType: "application/xml", Headers: map[string]string{"store_id": storeID},
	}); err != nil {
		t.Fatal(err)
	}
	f.setClock(now)
}

// checkCommandsMask runs each command, as JSON and as a table, and wants
// its output to hold masked (the masked field) and not card.
func checkCommandsMask(t *testing.T, f *fixture, card, masked, field string, runs map[string]func(asJSON bool) error) {
	t.Helper()
	for _, asJSON := range []bool{true, false} {
		for name, run := range runs {
			f.reset()
			if err := run(asJSON); err != nil {
				t.Fatal(err)
			}
			out := f.out.String()
			if strings.Contains(out, card[:10]) {
				t.Errorf("%s (json %v) shows the card number:\n%s", name, asJSON, out)
			} else if !strings.Contains(out, masked) {
				t.Errorf("%s (json %v) lacks the masked %s:\n%s", name, asJSON, field, out)
			}
		}
	}
}

// A request whose OrderId is a card number (a valid OrderId: up to 20
// characters): parked ls, show and stuck printed it whole, beside the
// masked store_id. They mask it too; the store's order_id column and the
// request keep it as sent (the order lock and status matching use it).
func TestOperatorCommandsMaskACardNumberInTheOrderID(t *testing.T) {
	const card = "4012888888881881"
	f := newFixture(t, "")
	f.publish("", broker.ParkedQueue("paysafe"), amqp.Publishing{MessageId: "msg-p8", ContentType: "application/xml",
		DeliveryMode: amqp.Persistent, Body: requestXML("p8", card), Headers: amqp.Table{
			"store_id": "S1", "parked_reason": "provider unavailable",
			"parked_at": now.Add(-time.Hour).Format(time.RFC3339), "parked_from_queue": broker.RequestQueue("paysafe")}})
	registerStuckP9(t, f, "S1", card)
	checkCommandsMask(t, f, card, "1881", "order id", map[string]func(asJSON bool) error{
		"parked ls": func(asJSON bool) error { return ops.List(f.ctx, f.env(), ops.Filter{}, asJSON) },
		"show":      func(asJSON bool) error { return ops.Show(f.ctx, f.env(), "p9", nil, asJSON) },
		"stuck":     func(asJSON bool) error { return ops.Stuck(f.ctx, f.env(), nil, nil, time.Hour, asJSON) },
	})
}

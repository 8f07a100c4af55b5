package ops_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// statusXML is a Radial PaymentSettlementStatus S for order.
func statusXML(order string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementStatus xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
  <PaymentContext><OrderId>` + order + `</OrderId><PaymentAccountUniqueId isToken="false">` + pan + `</PaymentAccountUniqueId></PaymentContext>
  <TenderType>VC</TenderType><Amount currencyCode="USD">100.00</Amount><SettlementType>Debit</SettlementType>
  <SettlementStatus>S</SettlementStatus><ClientContext>sw1-0123456789abcdef0123456789abcdef</ClientContext><StoreId>S1</StoreId>
</PaymentSettlementStatus>`)
}

// TestListShowsParkedProviderStatuses: a provider status parked for a
// person (Radial's S for a settlement we refused: money may have moved
// while the order system holds our R) waits in the provider's status
// parked queue. parked ls and stats did not read that queue, so nothing
// an operator runs showed it. They list it now, with its reason and
// order, masking nothing into view (no card number), and leave it parked.
func TestListShowsParkedProviderStatuses(t *testing.T) {
	f := newFixture(t, "")
	conn, err := amqp.Dial(f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := (broker.Topology{Providers: providers, RetryDelays: delays, DeliveryLimit: 20,
		ParkProviderStatuses: []string{"radial"}}).Declare(conn); err != nil {
		t.Fatal(err)
	}
	f.park("radial", "r1", "provider down: 503", 6, 3*time.Hour)
	reason := "status S for request r9, which is refused (our events: R): not applied, check the settlement with radial"
	f.publish("", broker.ProviderStatusParkedQueue("radial"), amqp.Publishing{MessageId: "radial-status-7", ContentType: "application/xml",
		DeliveryMode: amqp.Persistent, Body: statusXML("O-r9"), Headers: amqp.Table{
			"parked_reason": reason, "parked_at": now.Add(-time.Hour).Format(time.RFC3339),
			"parked_from_queue": "q.Payments.Settlements.Status.radial"}})

	if err := ops.List(f.ctx, f.env(), ops.Filter{}, true); err != nil {
		t.Fatal(err)
	}
	var got []ops.ParkedMessage
	if err := json.Unmarshal([]byte(f.out.String()), &got); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, f.out)
	}
	var status *ops.ParkedMessage
	for i := range got {
		if got[i].MessageID == "radial-status-7" {
			status = &got[i]
		}
	}
	if status == nil {
		t.Fatalf("parked ls does not show the parked provider status: %s", f.out)
	}
	if status.Reason != reason || status.OrderID != "O-r9" || status.Provider != "radial" {
		t.Errorf("parked status listed as %+v", *status)
	}

	f.reset()
	if err := ops.List(f.ctx, f.env(), ops.Filter{}, false); err != nil {
		t.Fatal(err)
	}
	if out := f.out.String(); !strings.Contains(out, "radial-status-7") || !strings.Contains(out, "O-r9") || strings.Contains(out, pan) {
		t.Errorf("table:\n%s", out)
	}
	f.depth(broker.ProviderStatusParkedQueue("radial"), 1)
	f.depth(broker.ParkedQueue("radial"), 1)

	f.reset()
	if err := ops.Stats(f.ctx, f.env(), true); err != nil {
		t.Fatal(err)
	}
	var stats ops.Statistics
	if err := json.Unmarshal([]byte(f.out.String()), &stats); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, f.out)
	}
	found := false
	for _, q := range stats.Queues {
		if q.Queue == broker.ProviderStatusParkedQueue("radial") && q.Ready == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("stats does not show the parked provider status: %+v", stats.Queues)
	}
}

// TestPurgeRemovesParkedProviderStatuses: the runbook tells a person who
// settled an ambiguous Radial status by hand to "purge both" (the parked
// request and the parked provider status), and to purge a provider status
// that repeats a verdict whose bodies were purged. parked purge read only
// the request parked queue: it said "purged 0" and exited 0, and the
// status stayed parked for good (ParkedGrowing never cleared). It purges
// the provider status parked queue too now, with a preview and only what
// it showed; replay still leaves provider statuses parked.
func TestPurgeRemovesParkedProviderStatuses(t *testing.T) {
	f := newFixture(t, "")
	conn, err := amqp.Dial(f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := (broker.Topology{Providers: providers, RetryDelays: delays, DeliveryLimit: 20,
		ParkProviderStatuses: []string{"radial"}}).Declare(conn); err != nil {
		t.Fatal(err)
	}
	statusQ := broker.ProviderStatusParkedQueue("radial")
	parkStatus := func(id string) {
		f.publish("", statusQ, amqp.Publishing{MessageId: id, ContentType: "application/xml",
			DeliveryMode: amqp.Persistent, Body: statusXML("O-" + id), Headers: amqp.Table{
				"parked_reason": "ambiguous: all match", "parked_at": now.Add(-time.Hour).Format(time.RFC3339),
				"parked_from_queue": "q.Payments.Settlements.Status.radial"}})
	}
	parkStatus("radial-status-7")
	parkStatus("radial-status-8")
	f.park("radial", "r1", "ambiguous order", 1, time.Hour)

	// Replay leaves provider statuses parked (their queue is Radial's),
	// and says it moved nothing.
	if err := ops.Replay(f.ctx, f.env(), ops.Filter{RequestID: "radial-status-7"}, ops.ReplayOptions{}); err == nil ||
		!strings.Contains(err.Error(), "never moves a parked provider status") {
		t.Errorf("replay of a parked provider status: err = %v", err)
	}
	f.depth(statusQ, 2)

	f.reset()
	asked := 0
	yes := func(n int) bool { asked = n; return true }
	if err := ops.Purge(f.ctx, f.env(), ops.Filter{Providers: []string{"radial"}, RequestID: "radial-status-7"}, ops.PurgeOptions{Confirm: yes}); err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("asked about %d message(s), want 1 (the parked status)\n%s", asked, f.out)
	}
	if out := f.out.String(); !strings.Contains(out, "radial-status-7") || !strings.Contains(out, "purged 1 of 2 parked message(s) from "+statusQ) || strings.Contains(out, pan) {
		t.Errorf("output:\n%s", out)
	}
	f.depth(statusQ, 1)
	f.depth(broker.ParkedQueue("radial"), 1)

	// Without confirmation (--yes) too; the request stays.
	f.reset()
	if err := ops.Purge(f.ctx, f.env(), ops.Filter{RequestID: "radial-status-8"}, ops.PurgeOptions{}); err != nil {
		t.Fatal(err)
	}
	f.depth(statusQ, 0)
	if got := f.ids(broker.ParkedQueue("radial")); len(got) != 1 || got[0] != "r1" {
		t.Errorf("request parked queue after purging the statuses: %v, want [r1]", got)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// TestScenariosAreWhatTheyClaim checks the requests before any broker is
// involved: the seed examples keep their content with the run's ids, the
// valid ones validate, the invalid one fails on InvoiceId and Amount, the
// unparseable one does not parse, and no body is printed with its card number.
func TestScenariosAreWhatTheyClaim(t *testing.T) {
	scs, err := buildScenarios(repoRoot(t), "abc123")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, s := range scs {
		if ids[s.id] {
			t.Errorf("duplicate id %s", s.id)
		}
		ids[s.id] = true
		if len(s.order) > 20 {
			t.Errorf("%s: OrderId %q is longer than 20 characters", s.id, s.order)
		}
		if strings.Contains(s.what+s.account, testAccount) {
			t.Errorf("%s: the card number would be printed", s.id)
		}
		req, err := messages.DecodeSettlementRequest(s.body)
		if s.expect[0] == outParked {
			if err == nil {
				t.Errorf("%s: the unparseable body parses", s.id)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.id, err)
		}
		if req.RequestID != s.id || req.OrderID() != s.order {
			t.Errorf("%s: body has requestId %q, order %q", s.id, req.RequestID, req.OrderID())
		}
		verr := req.Validate()
		if s.kind == "invalid request" {
			if verr == nil || !strings.Contains(verr.Error(), "InvoiceId") || !strings.Contains(verr.Error(), "Amount") {
				t.Errorf("%s: validation = %v, want InvoiceId and Amount problems", s.id, verr)
			}
		} else if verr != nil {
			t.Errorf("%s: %v", s.id, verr)
		}
	}
	if scs[0].amount != "55.00" || scs[0].clientContext != "9841238411317" || scs[0].order != "OrderId01013-abc123" {
		t.Errorf("seed example 1 = %+v", scs[0])
	}
	if !strings.Contains(string(scs[0].body), "<!--    PaymentContext is used to process the payments with Payment Account Number-->") {
		t.Error("the seed example's text was not kept")
	}
}

func goodStatus() amqp.Delivery {
	return amqp.Delivery{
		ContentType: "application/xml", Type: broker.StatusMessageType, DeliveryMode: amqp.Persistent,
		MessageId: "m-1", CorrelationId: "r-1", RoutingKey: broker.StatusRoutingKey(storeID),
		Headers: amqp.Table{"request_id": "r-1", "store_id": storeID, "provider": provider, "settlement_status": "S", "order_id": "O-1"},
	}
}

func TestCheckContract(t *testing.T) {
	if p := checkContract(goodStatus()); len(p) > 0 {
		t.Fatalf("a conforming event: %v", p)
	}
	d := goodStatus()
	d.DeliveryMode = amqp.Transient
	d.Type = ""
	delete(d.Headers, "order_id")
	d.Headers["request_id"] = "other"
	if p := checkContract(d); len(p) != 4 {
		t.Fatalf("problems = %v, want 4", p)
	}
}

func TestEvaluateFlagsMismatches(t *testing.T) {
	s := &scenario{id: "r-1", order: "O-1", expect: []string{outSettled, outRefused}, reasons: []string{"Chargeback"},
		want: ledgerWant{debits: 1, history: "S→R"}}
	s.events = []statusEvent{{status: "S", order: "O-1"}, {status: "R", order: "O-1", reason: "Chargeback"}}
	s.ledger = []radial.Entry{{RequestID: "r-1", Type: "Debit", History: []radial.EntryStatus{{Status: "S"}, {Status: "R"}}}}
	r := &results{scs: []*scenario{s}}
	r.evaluate()
	if !r.ok() {
		t.Fatalf("matching scenario: %v", s.problems)
	}
	s.events[1].reason = "Fraud"
	s.events[0].order = "O-2"
	s.ledger = append(s.ledger, s.ledger[0])
	r.evaluate()
	if r.ok() || len(s.problems) != 4 {
		t.Fatalf("problems = %q, want 4 (order, reason, count, history)", s.problems)
	}
}

// TestContractConstants keeps the demo's copy of the contract's names in
// step with package handlers.
func TestContractConstants(t *testing.T) {
	pairs := map[string][2]string{
		"store_id":        {headerStoreID, handlers.HeaderStoreID},
		"tender_type":     {headerTenderType, handlers.HeaderTenderType},
		"original auth":   {headerOriginalAuthAmount, handlers.HeaderOriginalAuthAmount},
		"request_id":      {headerRequestID, handlers.HeaderRequestID},
		"provider":        {headerProvider, handlers.HeaderProvider},
		"status":          {headerSettlementStatus, handlers.HeaderSettlementStatus},
		"parked_reason":   {headerParkedReason, handlers.HeaderParkedReason},
		"parked_at":       {headerParkedAt, handlers.HeaderParkedAt},
		"parked_attempts": {headerParkedAttempts, handlers.HeaderParkedAttempts},
		"parked_from":     {headerParkedFrom, handlers.HeaderParkedFrom},
		"content type":    {contentTypeXML, handlers.ContentTypeXML},
	}
	for name, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("%s: demo uses %q, handlers %q", name, p[0], p[1])
		}
	}
}

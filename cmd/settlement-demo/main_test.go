package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
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
// unparseable one does not parse, every provider and both intakes are
// exercised with a debit S, a funds refusal R and a credit S where they
// should be, Miva's orders are numeric, and no body or description is
// printed with its card number.
func TestScenariosAreWhatTheyClaim(t *testing.T) {
	scs, err := buildScenarios(repoRoot(t), "abc123")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	kinds := map[string]map[string]bool{}
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
		if s.store == "" || s.provider == "" || s.group == "" || s.via == "" {
			t.Errorf("%s: store %q, provider %q, group %q, via %q", s.id, s.store, s.provider, s.group, s.via)
		}
		if s.provider == provMiva {
			if _, err := strconv.ParseInt(s.order, 10, 64); err != nil {
				t.Errorf("%s: Miva order %q is not numeric", s.id, s.order)
			}
		}
		if kinds[s.group] == nil {
			kinds[s.group] = map[string]bool{}
		}
		for _, r := range s.reasons {
			if r == "funds not available" {
				kinds[s.group]["funds R"] = true
			}
		}
		if s.expect[0] == outSettled {
			kinds[s.group][s.typ+" S"] = true
		}
		if s.via == viaRetailOPS {
			if !strings.HasPrefix(s.id, "ro-"+retailOPSChannel+"-"+s.order+"-") || s.clientContext != s.id {
				t.Errorf("RetailOPS scenario: requestId %q, ClientContext %q for order %s", s.id, s.clientContext, s.order)
			}
			if !strings.Contains(string(s.body), `"id":`+s.order) || strings.Contains(string(s.body), "4897") {
				t.Errorf("RetailOPS webhook does not carry the run's order id %s", s.order)
			}
			continue
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
			if verr == nil || !strings.Contains(verr.Error(), "InvoiceId") || !strings.Contains(verr.Error(), "TaxAmount") {
				t.Errorf("%s: validation = %v, want InvoiceId and TaxAmount problems", s.id, verr)
			}
			// It ends R only if every value a status echoes is valid.
			if st := (messages.PaymentSettlementStatus{PaymentContext: req.PaymentContext, PaymentContextBase: req.PaymentContextBase,
				TenderType: s.tender, Amount: req.Amount, SettlementType: req.SettlementType, SettlementStatus: messages.StatusRejected,
				StoreID: "STORE"}); st.Validate() != nil {
				t.Errorf("%s: no valid R can report it (%v): the worker would park it", s.id, st.Validate())
			}
		} else if verr != nil {
			t.Errorf("%s: %v", s.id, verr)
		}
		if s.typ == messages.SettlementCredit && s.after == nil {
			t.Errorf("%s: a credit must wait for the debit it refunds", s.id)
		}
	}
	for _, p := range allProviders {
		for _, k := range []string{"Debit S", "funds R", "Credit S"} {
			if !kinds[p][k] {
				t.Errorf("provider %s has no %s scenario", p, k)
			}
		}
	}
	for _, g := range []string{groupRetailOPS, groupRadialHTTP} {
		if !kinds[g]["Debit S"] {
			t.Errorf("intake %s has no debit", g)
		}
	}
	if scs[0].amount != "55.00" || scs[0].clientContext != "9841238411317" || scs[0].order != "OrderId01013-abc123" {
		t.Errorf("seed example 1 = %+v", scs[0])
	}
	if !strings.Contains(string(scs[0].body), "<!--    PaymentContext is used to process the payments with Payment Account Number-->") {
		t.Error("the seed example's text was not kept")
	}
}

// TestReadiness checks the orchestration: credits wait for their debit,
// a duplicate waits for the original's status, lone ones are left out.
func TestReadiness(t *testing.T) {
	debit := &scenario{id: "d", via: viaAMQP, expect: []string{outSettled}}
	credit := &scenario{id: "c", via: viaAMQP, after: debit, expect: []string{outSettled}}
	dup := &scenario{id: "x", via: viaAMQP, resend: resendAfterStatus, expect: []string{outSettled}}
	alone := &scenario{id: "a", via: viaAMQP, alone: true, expect: []string{outSettled}}
	intake := &scenario{id: "i", via: viaRetailOPS, expect: []string{outSettled}}
	scs := []*scenario{debit, credit, dup, alone, intake}
	ids := func() string {
		var out []string
		for _, it := range readyLocked(scs) {
			out = append(out, it.s.id+map[bool]string{true: "+"}[it.again])
		}
		return strings.Join(out, ",")
	}
	if got := ids(); got != "d,x" {
		t.Fatalf("first: %s", got)
	}
	debit.sent, dup.sent = 1, 1
	if got := ids(); got != "" {
		t.Fatalf("nothing happened yet: %s", got)
	}
	debit.events = []statusEvent{{status: "S"}}
	dup.events = []statusEvent{{status: "S"}}
	if got := ids(); got != "c,x+" {
		t.Fatalf("after the outcomes: %s", got)
	}
	credit.sent, dup.sent, intake.sent = 1, 2, 2
	if !allSentLocked(scs) {
		t.Fatal("everything but the lone one was sent")
	}
}

func TestPrinterMasksTheCardNumber(t *testing.T) {
	var b strings.Builder
	newPrinter(&b).say("reason: card %s declined", testAccount)
	if strings.Contains(b.String(), testAccount) || !strings.Contains(b.String(), "************0008") {
		t.Fatalf("printed %q", b.String())
	}
}

func TestStatusKey(t *testing.T) {
	if statusKey("S", "1", "Debit", "35") != statusKey("S", "1", "Debit", "35.00") {
		t.Error("35 and 35.00 are the same amount")
	}
	if statusKey("S", "1", "Debit", "35") == statusKey("S", "1", "Credit", "35") {
		t.Error("a debit and a credit differ")
	}
}

func goodStatus() amqp.Delivery {
	return amqp.Delivery{
		ContentType: "application/xml", Type: broker.StatusMessageType, DeliveryMode: amqp.Persistent,
		MessageId: "m-1", CorrelationId: "r-1", RoutingKey: broker.StatusRoutingKey(storeID),
		Headers: amqp.Table{"request_id": "r-1", "store_id": storeID, "provider": provRadial, "settlement_status": "S", "order_id": "O-1"},
	}
}

func TestCheckContract(t *testing.T) {
	if p := checkContract(goodStatus(), storeID, provRadial); len(p) > 0 {
		t.Fatalf("a conforming event: %v", p)
	}
	d := goodStatus()
	d.DeliveryMode = amqp.Transient
	d.Type = ""
	delete(d.Headers, "order_id")
	d.Headers["request_id"] = "other"
	if p := checkContract(d, storeID, provRadial); len(p) != 4 {
		t.Fatalf("problems = %v, want 4", p)
	}
	if p := checkContract(goodStatus(), paysafeStore, provPaysafe); len(p) != 3 {
		t.Fatalf("another provider's event: %v, want store_id, provider and routing key", p)
	}
}

func TestEvaluateFlagsMismatches(t *testing.T) {
	s := &scenario{id: "r-1", provider: provRadial, order: "O-1", amount: "10.00", expect: []string{outSettled, outRefused}, reasons: []string{"Chargeback"},
		want: ledgerWant{debits: 1, history: "S→R"}}
	s.events = []statusEvent{{status: "S", order: "O-1", amount: "10.00 USD"}, {status: "R", order: "O-1", reason: "Chargeback", amount: "10.00 USD"}}
	s.webhook = []string{"R", "S"}
	s.ledger = []move{{provider: provRadial, key: "r-1", amount: "10.00", currency: "USD", history: "S→R"}}
	r := &results{scs: []*scenario{s}}
	r.evaluate()
	if !r.ok() {
		t.Fatalf("matching scenario: %v", s.problems)
	}
	s.events[1].reason = "Fraud"
	s.events[0].order = "O-2"
	s.ledger = append(s.ledger, s.ledger[0])
	s.webhook = s.webhook[:1]
	r.evaluate()
	if r.ok() || len(s.problems) != 5 {
		t.Fatalf("problems = %q, want 5 (order, reason, webhook, count, history)", s.problems)
	}
}

// TestSetLedger hands entries to scenarios by key, Miva's by order and
// type, and keeps the rest as strays.
func TestSetLedger(t *testing.T) {
	ps := &scenario{id: "demo-r1-21", provider: provPaysafe, order: "PS-1", typ: "Debit"}
	md := &scenario{id: "demo-r1-41", provider: provMiva, order: "7", typ: "Debit"}
	mc := &scenario{id: "demo-r1-43", provider: provMiva, order: "7", typ: "Credit"}
	rd := &scenario{id: "demo-r1-01", provider: provRadial, order: "ORD-1", typ: "Debit"}
	r := &results{scs: []*scenario{ps, md, mc, rd}}
	r.setLedger(map[string][]move{
		provPaysafe: {{key: "demo-r1-21"}, {key: "other"}},
		provMiva:    {{order: "7"}, {order: "7", credit: true}, {order: "8"}},
		provRadial:  {{key: "demo-r1-01", order: "ORD-1"}, {key: "someone-else", order: "X"}, {key: "demo-r1-99", order: "Y"}},
	}, "r1")
	if len(ps.ledger) != 1 || len(md.ledger) != 1 || len(mc.ledger) != 1 || !mc.ledger[0].credit || len(rd.ledger) != 1 {
		t.Fatalf("ledgers: %d %d %d %d", len(ps.ledger), len(md.ledger), len(mc.ledger), len(rd.ledger))
	}
	if len(r.stray) != 3 {
		t.Fatalf("strays = %+v, want paysafe other, miva 8, radial demo-r1-99", r.stray)
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

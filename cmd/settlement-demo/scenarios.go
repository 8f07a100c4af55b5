package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// Settings of the run.
const (
	apiKey             = "demo-key"
	storeID            = "DEMO-STORE-1"
	currency           = "USD"
	sandboxStatusDelay = 300 * time.Millisecond
	retryDelays        = "300ms,600ms"
	maxAttempts        = 3
	// testAccount is a test card number (the seed's); it is only ever
	// printed masked.
	testAccount = "4400000000000008"
	// failNext is how many settle calls the sandbox answers 503 for the
	// transient scenario.
	failNext = 2
)

// Phases: a scenario is published when its phase starts.
const (
	// phaseFirst: everything that does not depend on another outcome.
	phaseFirst = iota + 1
	// phaseAfterDebit: the credit, once the debit it refunds settled.
	phaseAfterDebit
	// phaseAlone: the transient-503 one, alone, once every other settle
	// call is over, so that the injected faults hit only it.
	phaseAlone
)

// Outcomes a scenario can expect.
const (
	outSettled = messages.StatusSettled
	outRefused = messages.StatusRejected
	outParked  = "parked"
)

// scenario is one request of the demo, what it should end with and what
// happened to it.
type scenario struct {
	n       int
	id      string // requestId (and AMQP message_id)
	kind    string // short label for the table
	what    string // printed when published
	order   string
	tender  string
	typ     string // Debit or Credit
	amount  string
	account string // masked account, when the request has one
	// clientContext is the request's ClientContext ("" when none).
	clientContext string
	authAmt       string // original_authorization_amount header ("" = none)

	auth *radial.Authorization // sandbox script for its order, if any
	body []byte
	// resend publishes the identical message again once its first status
	// arrived: the worker must not settle it again but republish the
	// recorded event, same message_id (which the order system drops).
	resend bool
	// confirmAmt is the amount ConfirmFunds must ask for: the
	// original_authorization_amount header, else the Amount; "" when the
	// request must not reach ConfirmFunds (credits, invalid requests).
	confirmAmt string
	phase      int
	faulty     bool // set the sandbox's settle faults just before publishing it
	expect     []string
	reasons    []string // substrings every R reason must contain
	want       ledgerWant

	// Results, filled while the demo runs (under tracker.mu).
	events  []statusEvent
	repeats int // events whose message_id was seen before (dropped)
	parked  string
	// parkedProblems: where the parked copy departs from the README.
	parkedProblems []string
	// After the run.
	ledger    []radial.Entry
	failed5xx int // settle calls answered 503 while it ran (transient one)
	problems  []string
}

// ledgerWant is what the sandbox ledger must show for a scenario's
// requestId: how many entries of each type, and the status history.
type ledgerWant struct {
	debits, credits int
	history         string // e.g. "S", "S→R", "" for no entry
}

// expectLabel is the EXPECTED column.
func (s *scenario) expectLabel() string {
	parts := []string{strings.Join(s.expect, "→")}
	if len(s.reasons) > 0 {
		parts = append(parts, strings.Join(s.reasons, "+"))
	}
	return strings.Join(parts, " ")
}

// done reports whether every expected outcome arrived.
func (s *scenario) done() bool {
	if len(s.expect) == 1 && s.expect[0] == outParked {
		return s.parked != ""
	}
	return len(s.events) >= len(s.expect) && (!s.resend || s.repeats > 0)
}

// publishes is how many times its message is published.
func (s *scenario) publishes() int {
	if s.resend {
		return 2
	}
	return 1
}

// started reports whether its first outcome arrived.
func (s *scenario) started() bool { return len(s.events) > 0 || s.parked != "" }

// callsSettle reports whether the worker calls the sandbox's settle for it.
func (s *scenario) callsSettle() bool { return s.want.debits+s.want.credits > 0 }

// buildScenarios makes the run's requests. The seed's two examples come
// from messages/testdata verbatim except requestId and OrderId, which get
// the run id so that runs never collide.
func buildScenarios(root, runID string) ([]*scenario, error) {
	id := func(n int) string { return fmt.Sprintf("demo-%s-%02d", runID, n) }
	order := func(n int) string { return fmt.Sprintf("ORD-%s-%02d", runID, n) }
	auth := func(order, amount string) *radial.Authorization {
		return &radial.Authorization{StoreID: storeID, OrderID: order, Amount: amount, Currency: currency}
	}
	var out []*scenario
	add := func(s *scenario) { s.n = len(out) + 1; out = append(out, s) }

	// 1. The seed's example "with optional elements", PaymentContext kept:
	// a VC debit of 55.00 on an authorization of 100.00.
	body, req, err := seedRequest(root, "request_optional_payment_context.xml", id(1), runID)
	if err != nil {
		return nil, err
	}
	seedVC := &scenario{
		id: id(1), kind: "seed example, PaymentContext", tender: "VC", authAmt: "100.00",
		what: "seed example \"with optional elements\" (PaymentContext kept), original authorization 100.00",
		body: body, phase: phaseFirst, expect: []string{outSettled}, want: ledgerWant{debits: 1, history: "S"},
	}
	fillFrom(seedVC, req)
	seedVC.auth = auth(seedVC.order, "100.00")
	add(seedVC)

	// 2. The seed's example "with required elements", PaymentContextBase
	// kept: a PayPal debit (no account number).
	body, req, err = seedRequest(root, "request_required_payment_context_base.xml", id(2), runID)
	if err != nil {
		return nil, err
	}
	seedPY := &scenario{
		id: id(2), kind: "seed example, PaymentContextBase", tender: "PY",
		what: "seed example \"with required elements\" (PaymentContextBase kept), PayPal",
		body: body, phase: phaseFirst, expect: []string{outSettled}, want: ledgerWant{debits: 1, history: "S"},
	}
	fillFrom(seedPY, req)
	seedPY.auth = auth(seedPY.order, seedPY.amount)
	add(seedPY)

	// 3. ConfirmFunds answers Fail: withheld, R, no debit.
	funds := synth(id(3), order(3), messages.SettlementDebit, "30.00", true)
	add(scenarioSpec{
		id: id(3), kind: "funds check fails", tender: "VC", authAmt: "30.00",
		what:  "debit; the sandbox's ConfirmFunds answers Fail for this order",
		auth:  &radial.Authorization{StoreID: storeID, OrderID: order(3), Amount: "30.00", Currency: currency, FundsOutcome: messages.FundsFail},
		phase: phaseFirst, expect: []string{outRefused}, reasons: []string{"funds not available"},
		req: funds,
	}.withReq())

	// 4. Invalid: three decimals and no InvoiceId: R naming both.
	invalid := synth(id(4), order(4), messages.SettlementDebit, "10.005", true)
	invalid.InvoiceID = ""
	add(scenarioSpec{
		id: id(4), kind: "invalid request", tender: "VC",
		what:  "debit of 10.005 (three decimals) without InvoiceId",
		phase: phaseFirst, expect: []string{outRefused}, reasons: []string{"InvoiceId", "Amount"},
		req: invalid,
	}.withReq())

	// 5. The sandbox declines the settlement.
	declined := synth(id(5), order(5), messages.SettlementDebit, "42.00", true)
	add(scenarioSpec{
		id: id(5), kind: "declined by Radial", tender: "VC", authAmt: "42.00",
		what: "debit; the sandbox declines it (scripted settle_verdict R)",
		auth: &radial.Authorization{StoreID: storeID, OrderID: order(5), Amount: "42.00", Currency: currency,
			SettleVerdict: messages.StatusRejected, DeclineReason: "Issuer declined: do not honor"},
		phase: phaseFirst, expect: []string{outRefused}, reasons: []string{"do not honor"},
		want: ledgerWant{debits: 1, history: "R"}, req: declined,
	}.withReq())

	// 6. Settled, then a chargeback 500ms later.
	cb := synth(id(6), order(6), messages.SettlementDebit, "75.00", true)
	add(scenarioSpec{
		id: id(6), kind: "chargeback after S", tender: "VC", authAmt: "75.00",
		what: "debit; the sandbox sends a chargeback R 500ms after its S",
		auth: &radial.Authorization{StoreID: storeID, OrderID: order(6), Amount: "75.00", Currency: currency,
			LaterStatuses: []radial.LaterStatus{{AfterMS: 500, Status: messages.StatusRejected, DeclineReason: "Chargeback"}}},
		phase: phaseFirst, expect: []string{outSettled, outRefused}, reasons: []string{"Chargeback"},
		want: ledgerWant{debits: 1, history: "S→R"}, req: cb,
	}.withReq())

	// 7. The same message published twice: one debit.
	dup := synth(id(7), order(7), messages.SettlementDebit, "25.00", false)
	add(scenarioSpec{
		id: id(7), kind: "same request published twice", tender: "PY", authAmt: "25.00", resend: true,
		what: "PayPal debit; the identical message is published again after its status",
		auth: auth(order(7), "25.00"), phase: phaseFirst, expect: []string{outSettled},
		want: ledgerWant{debits: 1, history: "S"}, req: dup,
	}.withReq())

	// 8. Not XML at all (a truncated message): parked with a reason.
	add(&scenario{
		id: id(8), kind: "unparseable body", order: order(8), tender: "VC",
		what: "truncated XML body",
		body: []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<PaymentSettlementRequest requestId="` + id(8) + `" xmlns="` + messages.Namespace + `"><PaymentContextBase><OrderId>` + order(8)),
		phase: phaseFirst, expect: []string{outParked},
	})

	// 9. A credit on the order debited by the seed's example, once that
	// debit settled (Radial refunds only what was captured).
	credit := synth(id(9), seedVC.order, messages.SettlementCredit, "20.00", true)
	credit.RefundReason = "Customer returned an item"
	add(scenarioSpec{
		id: id(9), kind: "credit on a debited order", tender: "VC",
		what:  fmt.Sprintf("refund of 20.00 on order %s (debited 55.00 by %s)", seedVC.order, seedVC.id),
		phase: phaseAfterDebit, expect: []string{outSettled},
		want: ledgerWant{credits: 1, history: "S"}, req: credit,
	}.withReq())

	// 10. Radial answers 503 twice, then takes it: retried with the same
	// requestId, settled once.
	tr := synth(id(10), order(10), messages.SettlementDebit, "60.00", true)
	add(scenarioSpec{
		id: id(10), kind: "transient 503 ×2, then OK", tender: "VC", authAmt: "60.00",
		what: fmt.Sprintf("debit; the sandbox answers its next %d settle calls 503", failNext),
		auth: auth(order(10), "60.00"), phase: phaseAlone, faulty: true, expect: []string{outSettled},
		want: ledgerWant{debits: 1, history: "S"}, req: tr,
	}.withReq())

	for _, s := range out {
		if s.body == nil {
			return nil, fmt.Errorf("scenario %s has no body", s.id)
		}
		if req, err := messages.DecodeSettlementRequest(s.body); err == nil && req.Validate() == nil && req.SettlementType == messages.SettlementDebit {
			s.confirmAmt = s.authAmt
			if s.confirmAmt == "" {
				s.confirmAmt = s.amount
			}
		}
	}
	return out, nil
}

// scenarioSpec is a scenario whose body is encoded from req.
type scenarioSpec struct {
	id, kind, what, tender, authAmt string
	auth                            *radial.Authorization
	phase                           int
	faulty, resend                  bool
	expect, reasons                 []string
	want                            ledgerWant
	req                             *messages.PaymentSettlementRequest
}

func (sp scenarioSpec) withReq() *scenario {
	s := &scenario{
		id: sp.id, kind: sp.kind, what: sp.what, tender: sp.tender, authAmt: sp.authAmt,
		auth: sp.auth, phase: sp.phase, resend: sp.resend, faulty: sp.faulty,
		expect: sp.expect, reasons: sp.reasons, want: sp.want,
	}
	body, err := messages.Encode(sp.req)
	if err != nil {
		panic(err) // the demo's own requests always encode
	}
	s.body = body
	fillFrom(s, sp.req)
	return s
}

// fillFrom copies the request's order, type, amount and masked account.
func fillFrom(s *scenario, r *messages.PaymentSettlementRequest) {
	s.order = r.OrderID()
	s.typ = r.SettlementType
	s.amount = r.Amount.Value
	s.clientContext = r.ClientContext
	if r.PaymentContext != nil {
		s.account = messages.MaskAccount(r.PaymentContext.PaymentAccountUniqueID.Value)
	}
}

// synth is a minimal valid request: a card (PaymentContext) or, with
// card false, PayPal (PaymentContextBase).
func synth(id, order, typ, amount string, card bool) *messages.PaymentSettlementRequest {
	r := &messages.PaymentSettlementRequest{
		RequestID:         id,
		InvoiceID:         "INV" + strings.TrimPrefix(id, "demo"),
		Amount:            messages.Amount{CurrencyCode: currency, Value: amount},
		TaxAmount:         &messages.Amount{CurrencyCode: currency, Value: "0.00"},
		SettlementType:    typ,
		SourceOrderSystem: "OOMF",
	}
	if card {
		r.PaymentContext = &messages.PaymentContext{OrderID: order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: testAccount}}
	} else {
		r.PaymentContextBase = &messages.PaymentContextBase{OrderID: order}
	}
	return r
}

// seedRequest reads a seed example from messages/testdata and replaces its
// requestId and OrderId (suffixed with the run id, within OrderId's 20
// characters) in the text, leaving the rest byte for byte. It checks the
// result still decodes and validates.
func seedRequest(root, file, requestID, runID string) ([]byte, *messages.PaymentSettlementRequest, error) {
	path := filepath.Join(root, "messages", "testdata", file)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("seed example: %w", err)
	}
	orig, err := messages.DecodeSettlementRequest(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("seed example %s: %w", file, err)
	}
	oldOrder := orig.OrderID()
	prefix := oldOrder
	if n := 20 - len(runID) - 1; len(prefix) > n {
		prefix = prefix[:n]
	}
	newOrder := prefix + "-" + runID
	body := bytes.Replace(raw, []byte(`requestId="`+orig.RequestID+`"`), []byte(`requestId="`+requestID+`"`), 1)
	body = bytes.Replace(body, []byte("<OrderId>"+oldOrder+"</OrderId>"), []byte("<OrderId>"+newOrder+"</OrderId>"), 1)
	req, err := messages.DecodeSettlementRequest(body)
	if err != nil {
		return nil, nil, fmt.Errorf("seed example %s after renaming: %w", file, err)
	}
	if req.RequestID != requestID || req.OrderID() != newOrder {
		return nil, nil, fmt.Errorf("seed example %s: could not rename requestId/OrderId (got %q/%q)", file, req.RequestID, req.OrderID())
	}
	if err := req.Validate(); err != nil {
		return nil, nil, fmt.Errorf("seed example %s is not valid: %w", file, err)
	}
	return body, req, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// Settings of the run. The credentials are the sandbox's and the demo's
// own, made up for the run; they are never printed (the demo checks that
// the worker's log does not contain them either).
const (
	apiKey             = "demo-key" // the Radial sandbox's apikey
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

	paysafeStore    = "DEMO-PAYSAFE-1"
	paysafeAccount  = "1001000001"
	paysafeUser     = "demo-paysafe-user"
	paysafePassword = "demo-paysafe-password-7c1e"
	// paysafeBatch is how often the Paysafe sandbox batches PENDING
	// settlements and refunds to COMPLETED (Paysafe itself: daily).
	paysafeBatch = 500 * time.Millisecond
	// paysafeRecheck is PAYSAFE_RECHECK_AFTER: the worker re-reads a
	// PENDING settlement through the 300ms retry queue.
	paysafeRecheck = 300 * time.Millisecond

	frisbiiStore  = "DEMO-FRISBII-1"
	frisbiiAPIKey = "priv_demo_3f9a2b"

	mivaStore     = "DEMO-MIVA-1"
	mivaStoreCode = "demo"
	mivaToken     = "demo-miva-token-51d0"

	intakeRetailOPSKey = "demo-retailops-key-8e2f"
	intakeRadialKey    = "demo-intake-apikey-4b7d"
	// retailOPSChannel is the seed webhook's data.channel.id; the worker
	// maps it to Miva (INTAKE_RETAILOPS_CHANNELS).
	retailOPSChannel = "21"
	retailOPSTender  = "CC"

	webhookUser     = "demo-webhook"
	webhookPassword = "demo-webhook-password-a19c"
	webhookPath     = "/settlement-statuses"
	// webhookQueue is the demo's own webhook queue, so that nothing else
	// on the broker feeds it between runs.
	webhookQueue = "q.Payments.Settlements.Status.settlement-demo-webhook"
)

// secrets are every credential of the run (and the card number), by what
// they are, for the log hygiene check.
var secrets = map[string]string{
	"the card number":            testAccount,
	"RADIAL_API_KEY":             apiKey,
	"PAYSAFE_PASSWORD":           paysafePassword,
	"FRISBII_API_KEY":            frisbiiAPIKey,
	"MIVA_API_TOKEN":             mivaToken,
	"INTAKE_RETAILOPS_AUTH_KEYS": intakeRetailOPSKey,
	"INTAKE_RADIAL_API_KEYS":     intakeRadialKey,
	"WEBHOOK_PASSWORD":           webhookPassword,
}

// Providers.
const (
	provRadial  = "radial"
	provPaysafe = "paysafe"
	provFrisbii = "frisbii"
	provMiva    = "miva"
)

// allProviders are the providers the worker runs with, in report order.
var allProviders = []string{provRadial, provPaysafe, provFrisbii, provMiva}

// How a request reaches the worker.
const (
	viaAMQP       = "amqp"        // published by the demo, as an order system does
	viaRetailOPS  = "retailops"   // POST /orders (RetailOPS order_settle_payment webhook)
	viaRadialHTTP = "radial-http" // POST /radial/settlements (PaymentSettlementRequestList)
)

// Summary groups: one per provider, one per HTTP intake.
const (
	groupRetailOPS  = "intake-retailops"
	groupRadialHTTP = "intake-radial"
)

var groupOrder = []string{provRadial, provPaysafe, provFrisbii, provMiva, groupRetailOPS, groupRadialHTTP}

// groupTitle is the header of a group in the summary.
func groupTitle(g string) string {
	switch g {
	case provRadial:
		return "radial   AMQP → q.Payments.Settlements.Request.radial, store " + storeID + " (verdicts arrive asynchronously on Radial's status queue)"
	case provPaysafe:
		return fmt.Sprintf("paysafe  AMQP → q.Payments.Settlements.Request.paysafe, store %s → Paysafe account %s (PENDING until the sandbox batches, every %s)", paysafeStore, paysafeAccount, paysafeBatch)
	case provFrisbii:
		return "frisbii  AMQP → q.Payments.Settlements.Request.frisbii, store " + frisbiiStore + " (charge handle: header charge_handle, else OrderId)"
	case provMiva:
		return "miva     AMQP → q.Payments.Settlements.Request.miva, store " + mivaStore + " → Miva store " + mivaStoreCode + " (no idempotency key at Miva)"
	case groupRetailOPS:
		return fmt.Sprintf("HTTP intake  POST /orders (RetailOPS order_settle_payment v1), channel %s → miva, store %s", retailOPSChannel, mivaStore)
	case groupRadialHTTP:
		return "HTTP intake  POST /radial/settlements (PaymentSettlementRequestList) → radial, store " + storeID
	}
	return g
}

// Outcomes a scenario can expect.
const (
	outSettled = messages.StatusSettled
	outRefused = messages.StatusRejected
	outParked  = "parked"
)

// Resending.
const (
	resendNone = iota
	// resendAfterStatus publishes the identical message again once its
	// first status arrived.
	resendAfterStatus
	// resendAtOnce sends it again right after the first was accepted (a
	// RetailOPS retry after a timeout).
	resendAtOnce
)

// scenario is one request of the demo, what it should end with and what
// happened to it.
type scenario struct {
	n        int
	id       string // requestId (and AMQP message_id)
	provider string
	via      string
	store    string
	group    string
	kind     string // short label for the table
	what     string // printed when published
	order    string
	tender   string
	typ      string // Debit or Credit
	amount   string
	account  string // masked account, when the request has one
	// clientContext is the ClientContext the status must carry ("" when
	// the request had none).
	clientContext string
	authAmt       string // original_authorization_amount header ("" = none)
	// headers are provider-specific AMQP headers (authorization_id,
	// settlement_id, charge_handle).
	headers map[string]string

	// What the provider's sandbox knows before the request (at most one).
	radialAuth    *radial.Authorization
	paysafeAuth   *paysafe.Authorization
	frisbiiCharge *frisbii.ChargeSeed
	mivaOrder     *miva.OrderSeed

	body []byte // the request (XML), or the RetailOPS webhook (JSON)
	// resend: see resendNone.
	resend int
	// after: published once that scenario has its outcome (a credit
	// refunds what its debit captured).
	after *scenario
	// prepare runs just before the publish (the Paysafe credit looks up
	// the settlement id it refunds); it returns what it found, printed.
	prepare func(ctx context.Context, sb *sandboxes) (string, error)
	// confirmAmt is the amount Radial's ConfirmFunds must ask for: the
	// original_authorization_amount header, else the Amount; "" when the
	// request must not reach ConfirmFunds (credits, invalid requests,
	// other providers).
	confirmAmt string
	// alone: published once every other Radial settle call is over, so
	// that the injected faults (faulty) hit only it.
	alone   bool
	faulty  bool
	expect  []string
	reasons []string // substrings every R reason must contain
	want    ledgerWant

	// parkedUnattempted: parked before its first attempt (it never
	// parsed), so the parked copy has no parked_attempts header.
	parkedUnattempted bool

	// Results, filled while the demo runs (under tracker.mu).
	sent    int // publishes / POSTs done
	events  []statusEvent
	repeats int // events whose message_id was seen before (dropped)
	parked  string
	// parkedProblems: where the parked copy departs from the README.
	parkedProblems []string
	// webhook are the statuses the demo's webhook received for it.
	webhook []string
	// httpProblems: where an intake answer departs from the README.
	httpProblems []string
	// After the run.
	ledger    []move
	failed5xx int // settle calls answered 503 while it ran (transient one)
	problems  []string
}

// ledgerWant is what the provider sandbox's ledger must show for a
// scenario: how many entries of each type, and their history in the
// sandbox's own words ("S→R", "PENDING→COMPLETED", "settled", "captured").
type ledgerWant struct {
	debits, credits int
	history         string // "" for no entry
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
	return len(s.events) >= len(s.expect) && (s.resend == resendNone || s.repeats > 0)
}

// publishes is how many times it is sent.
func (s *scenario) publishes() int {
	if s.resend != resendNone {
		return 2
	}
	return 1
}

// started reports whether its first outcome arrived.
func (s *scenario) started() bool { return len(s.events) > 0 || s.parked != "" }

// callsSettle reports whether the worker calls the sandbox's settle for it.
func (s *scenario) callsSettle() bool { return s.want.debits+s.want.credits > 0 }

// wantsStatus reports whether it ends with status events (not parked).
func (s *scenario) wantsStatus() bool { return s.expect[0] != outParked }

// runIDs identifies one demo run: ids (requestIds, order ids, handles) get
// it, so that runs never collide on the shared broker.
type runIDs struct {
	id  string // 6 base-36 characters
	num int64  // the same, as a number (Miva's order ids are numeric)
}

func newRun(id string) runIDs {
	n, err := strconv.ParseInt(id, 36, 64)
	if err != nil {
		n = time.Now().UnixMilli() % 1_000_000_000
	}
	return runIDs{id: id, num: n}
}

// requestID is the n-th request of the run.
func (r runIDs) requestID(n int) string { return fmt.Sprintf("demo-%s-%02d", r.id, n) }

// mivaOrderID is the numeric Miva order of the n-th request.
func (r runIDs) mivaOrderID(n int) int64 { return r.num*100 + int64(n) }

// buildScenarios makes the run's requests: Radial's (1–10), Paysafe's
// (21–24), Frisbii's (31–34), Miva's (41–44), the RetailOPS webhook (51)
// and the Radial-format list (61, 62). The seed's two examples come from
// messages/testdata verbatim except requestId and OrderId, which get the
// run id so that runs never collide.
func buildScenarios(root, runID string) ([]*scenario, error) {
	r := newRun(runID)
	id := r.requestID
	order := func(n int) string { return fmt.Sprintf("ORD-%s-%02d", runID, n) }
	auth := func(order, amount string) *radial.Authorization {
		return &radial.Authorization{StoreID: storeID, OrderID: order, Amount: amount, Currency: currency}
	}
	var out []*scenario
	add := func(s *scenario) *scenario { s.n = len(out) + 1; out = append(out, s); return s }

	// ---- Radial, over AMQP (the reference provider) ----

	// 1. The seed's example "with optional elements", PaymentContext kept:
	// a VC debit of 55.00 on an authorization of 100.00.
	body, req, err := seedRequest(root, "request_optional_payment_context.xml", id(1), runID)
	if err != nil {
		return nil, err
	}
	seedVC := &scenario{
		id: id(1), kind: "seed example, PaymentContext", tender: "VC", authAmt: "100.00",
		what: "seed example \"with optional elements\" (PaymentContext kept), original authorization 100.00",
		body: body, expect: []string{outSettled}, want: ledgerWant{debits: 1, history: "S"},
	}
	fillFrom(seedVC, req)
	seedVC.radialAuth = auth(seedVC.order, "100.00")
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
		body: body, expect: []string{outSettled}, want: ledgerWant{debits: 1, history: "S"},
	}
	fillFrom(seedPY, req)
	seedPY.radialAuth = auth(seedPY.order, seedPY.amount)
	add(seedPY)

	// 3. ConfirmFunds answers Fail: withheld, R, no debit.
	add((&scenario{
		id: id(3), kind: "funds check fails", tender: "VC", authAmt: "30.00",
		what:       "debit; the sandbox's ConfirmFunds answers Fail for this order",
		radialAuth: &radial.Authorization{StoreID: storeID, OrderID: order(3), Amount: "30.00", Currency: currency, FundsOutcome: messages.FundsFail},
		expect:     []string{outRefused}, reasons: []string{"funds not available"},
	}).withReq(synth(id(3), order(3), messages.SettlementDebit, "30.00", true)))

	// 4. Invalid: a TaxAmount of three decimals and no InvoiceId: R naming
	// both (neither is echoed in a status, so a valid R can report them; an
	// invalid Amount or currency would be parked instead: README, "Status
	// events").
	invalid := synth(id(4), order(4), messages.SettlementDebit, "10.00", true)
	invalid.InvoiceID = ""
	invalid.TaxAmount.Value = "0.005"
	add((&scenario{
		id: id(4), kind: "invalid request", tender: "VC",
		what:   "debit with a TaxAmount of 0.005 (three decimals) and no InvoiceId",
		expect: []string{outRefused}, reasons: []string{"InvoiceId", "TaxAmount"},
	}).withReq(invalid))

	// 5. The sandbox declines the settlement.
	add((&scenario{
		id: id(5), kind: "declined by Radial", tender: "VC", authAmt: "42.00",
		what: "debit; the sandbox declines it (scripted settle_verdict R)",
		radialAuth: &radial.Authorization{StoreID: storeID, OrderID: order(5), Amount: "42.00", Currency: currency,
			SettleVerdict: messages.StatusRejected, DeclineReason: "Issuer declined: do not honor"},
		expect: []string{outRefused}, reasons: []string{"do not honor"},
		want: ledgerWant{debits: 1, history: "R"},
	}).withReq(synth(id(5), order(5), messages.SettlementDebit, "42.00", true)))

	// 6. Settled, then a chargeback 500ms later.
	add((&scenario{
		id: id(6), kind: "chargeback after S", tender: "VC", authAmt: "75.00",
		what: "debit; the sandbox sends a chargeback R 500ms after its S",
		radialAuth: &radial.Authorization{StoreID: storeID, OrderID: order(6), Amount: "75.00", Currency: currency,
			LaterStatuses: []radial.LaterStatus{{AfterMS: 500, Status: messages.StatusRejected, DeclineReason: "Chargeback"}}},
		expect: []string{outSettled, outRefused}, reasons: []string{"Chargeback"},
		want: ledgerWant{debits: 1, history: "S→R"},
	}).withReq(synth(id(6), order(6), messages.SettlementDebit, "75.00", true)))

	// 7. The same message published twice: one debit.
	add((&scenario{
		id: id(7), kind: "same request published twice", tender: "PY", authAmt: "25.00", resend: resendAfterStatus,
		what:       "PayPal debit; the identical message is published again after its status",
		radialAuth: auth(order(7), "25.00"), expect: []string{outSettled},
		want: ledgerWant{debits: 1, history: "S"},
	}).withReq(synth(id(7), order(7), messages.SettlementDebit, "25.00", false)))

	// 8. Not XML at all (a truncated message): parked with a reason.
	add(&scenario{
		id: id(8), kind: "unparseable body", order: order(8), tender: "VC",
		what: "truncated XML body",
		body: []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<PaymentSettlementRequest requestId="` + id(8) + `" xmlns="` + messages.Namespace + `"><PaymentContextBase><OrderId>` + order(8)),
		expect: []string{outParked}, parkedUnattempted: true,
	})

	// 9. A credit on the order debited by the seed's example, once that
	// debit settled (Radial refunds only what was captured).
	credit := synth(id(9), seedVC.order, messages.SettlementCredit, "20.00", true)
	credit.RefundReason = "Customer returned an item"
	add((&scenario{
		id: id(9), kind: "credit on a debited order", tender: "VC",
		what:  fmt.Sprintf("refund of 20.00 on order %s (debited 55.00 by %s)", seedVC.order, seedVC.id),
		after: seedVC, expect: []string{outSettled},
		want: ledgerWant{credits: 1, history: "S"},
	}).withReq(credit))

	// 10. Radial answers 503 twice, then takes it: retried with the same
	// requestId, settled once.
	add((&scenario{
		id: id(10), kind: "transient 503 ×2, then OK", tender: "VC", authAmt: "60.00",
		what:       fmt.Sprintf("debit; the sandbox answers its next %d settle calls 503", failNext),
		radialAuth: auth(order(10), "60.00"), alone: true, faulty: true, expect: []string{outSettled},
		want: ledgerWant{debits: 1, history: "S"},
	}).withReq(synth(id(10), order(10), messages.SettlementDebit, "60.00", true)))

	// ---- Paysafe: authorizations per account; settlements batched ----

	psOrder := func(n int) string { return fmt.Sprintf("PS-%s-%02d", runID, n) }
	psAuthID := func(n int) string { return fmt.Sprintf("auth-%s-%02d", runID, n) }
	psAuth := func(n int, minor int64) *paysafe.Authorization {
		return &paysafe.Authorization{AccountID: paysafeAccount, ID: psAuthID(n), Amount: minor, Currency: currency}
	}
	psDebit := add((&scenario{
		id: id(21), provider: provPaysafe, kind: "debit, batched", tender: "VC",
		what:        "settlement of 40.00 on a COMPLETED authorization of 100.00 (header authorization_id); PENDING until the batch",
		headers:     map[string]string{"authorization_id": psAuthID(21)},
		paysafeAuth: psAuth(21, 10000), expect: []string{outSettled},
		want: ledgerWant{debits: 1, history: "PENDING→COMPLETED"},
	}).withReq(synth(id(21), psOrder(21), messages.SettlementDebit, "40.00", true)))
	add((&scenario{
		id: id(22), provider: provPaysafe, kind: "funds check fails", tender: "VC",
		what:        "settlement of 50.00 on an authorization of 30.00: availableToSettle too small, never submitted",
		headers:     map[string]string{"authorization_id": psAuthID(22)},
		paysafeAuth: psAuth(22, 3000), expect: []string{outRefused}, reasons: []string{"funds not available", "30.00"},
	}).withReq(synth(id(22), psOrder(22), messages.SettlementDebit, "50.00", true)))
	psCredit := add((&scenario{
		id: id(23), provider: provPaysafe, kind: "credit = refund of the debit", tender: "VC",
		what:    fmt.Sprintf("refund of 15.00 of %s's COMPLETED settlement (header settlement_id, from the sandbox ledger)", psDebit.id),
		headers: map[string]string{}, after: psDebit, expect: []string{outSettled},
		want: ledgerWant{credits: 1, history: "PENDING→COMPLETED"},
	}).withReq(synth(id(23), psOrder(21), messages.SettlementCredit, "15.00", true)))
	psCredit.prepare = func(ctx context.Context, sb *sandboxes) (string, error) {
		es, err := sb.paysafe.Ledger(ctx, paysafe.LedgerFilter{AccountID: paysafeAccount, Kind: paysafe.KindSettlement, MerchantRefNum: psDebit.id})
		if err != nil {
			return "", err
		}
		if len(es) != 1 || es[0].Status != paysafe.StatusCompleted {
			return "", fmt.Errorf("paysafe: want one COMPLETED settlement with merchantRefNum %s to refund, the sandbox ledger has %d", psDebit.id, len(es))
		}
		psCredit.headers["settlement_id"] = es[0].ID
		return fmt.Sprintf("paysafe sandbox ledger: settlement %s (merchantRefNum %s) is %s, %s refundable → header settlement_id",
			short(es[0].ID), psDebit.id, es[0].Status, minorString(es[0].AvailableToRefund, es[0].Currency)), nil
	}
	declinedAuth := psAuth(24, 2000)
	declinedAuth.BatchOutcome, declinedAuth.FailureMessage = paysafe.StatusFailed, "Bank declined the settlement: insufficient funds"
	add((&scenario{
		id: id(24), provider: provPaysafe, kind: "declined in the batch", tender: "VC",
		what:        "settlement of 20.00; the sandbox's batch FAILs it (scripted batch_outcome)",
		headers:     map[string]string{"authorization_id": psAuthID(24)},
		paysafeAuth: declinedAuth, expect: []string{outRefused}, reasons: []string{"FAILED", "insufficient funds"},
		want: ledgerWant{debits: 1, history: "PENDING→FAILED"},
	}).withReq(synth(id(24), psOrder(24), messages.SettlementDebit, "20.00", true)))

	// ---- Frisbii: charges; the handle is the OrderId unless a header says ----

	frOrder := func(n int) string { return fmt.Sprintf("FR-%s-%02d", runID, n) }
	frDebit := add((&scenario{
		id: id(31), provider: provFrisbii, kind: "debit (handle = OrderId)", tender: "VC",
		what:          "settle 60.00 of charge " + frOrder(31) + " (authorized 100.00; no header: the OrderId is the handle)",
		frisbiiCharge: &frisbii.ChargeSeed{Handle: frOrder(31), Amount: 10000, Currency: currency},
		expect:        []string{outSettled}, want: ledgerWant{debits: 1, history: "settled"},
	}).withReq(synth(id(31), frOrder(31), messages.SettlementDebit, "60.00", true)))
	frHandle := fmt.Sprintf("ch-%s-32", runID)
	add((&scenario{
		id: id(32), provider: provFrisbii, kind: "funds check fails", tender: "VC",
		what:          "settle 80.00 of charge " + frHandle + " (header charge_handle), authorized only 50.00",
		headers:       map[string]string{"charge_handle": frHandle},
		frisbiiCharge: &frisbii.ChargeSeed{Handle: frHandle, Amount: 5000, Currency: currency},
		expect:        []string{outRefused}, reasons: []string{"funds not available", "50.00"},
	}).withReq(synth(id(32), frOrder(32), messages.SettlementDebit, "80.00", true)))
	frRefund := synth(id(33), frOrder(31), messages.SettlementCredit, "25.00", true)
	frRefund.RefundReason = "Customer returned an item"
	add((&scenario{
		id: id(33), provider: provFrisbii, kind: "credit = refund of the debit", tender: "VC",
		what:  fmt.Sprintf("refund of 25.00 on charge %s (settled 60.00 by %s)", frOrder(31), frDebit.id),
		after: frDebit, expect: []string{outSettled}, want: ledgerWant{credits: 1, history: "refunded"},
	}).withReq(frRefund))
	add((&scenario{
		id: id(34), provider: provFrisbii, kind: "declined by Frisbii", tender: "VC",
		what: "settle 45.00 of charge " + frOrder(34) + "; the acquirer hard-declines it (scripted)",
		frisbiiCharge: &frisbii.ChargeSeed{Handle: frOrder(34), Amount: 4500, Currency: currency,
			Decline: &frisbii.Decline{ErrorState: frisbii.ErrorStateHardDeclined, Error: "credit_card_expired"}},
		expect: []string{outRefused}, reasons: []string{"credit_card_expired"},
		want: ledgerWant{debits: 1, history: "failed"},
	}).withReq(synth(id(34), frOrder(34), messages.SettlementDebit, "45.00", true)))

	// ---- Miva: numeric orders with payment records ----

	mvOrder := func(n int) string { return strconv.FormatInt(r.mivaOrderID(n), 10) }
	mvAuth := func(n int, amount, decline string) *miva.OrderSeed {
		return &miva.OrderSeed{OrderID: r.mivaOrderID(n), Currency: currency,
			Records: []miva.RecordSeed{{Type: miva.TypeAuth, Amount: amount, DeclineCapture: decline}}}
	}
	mvDebit := add((&scenario{
		id: id(41), provider: provMiva, kind: "debit (capture)", tender: "VC",
		what:      "capture 70.00 of order " + mvOrder(41) + "'s authorization record of 100.00",
		mivaOrder: mvAuth(41, "100.00", ""), expect: []string{outSettled},
		want: ledgerWant{debits: 1, history: "captured"},
	}).withReq(synth(id(41), mvOrder(41), messages.SettlementDebit, "70.00", true)))
	add((&scenario{
		id: id(42), provider: provMiva, kind: "funds check fails", tender: "VC",
		what:      "capture 90.00 of order " + mvOrder(42) + ", whose authorization has 60.00 available",
		mivaOrder: mvAuth(42, "60.00", ""), expect: []string{outRefused}, reasons: []string{"funds not available", "60.00"},
	}).withReq(synth(id(42), mvOrder(42), messages.SettlementDebit, "90.00", true)))
	mvRefund := synth(id(43), mvOrder(41), messages.SettlementCredit, "30.00", true)
	mvRefund.RefundReason = "Customer returned an item"
	add((&scenario{
		id: id(43), provider: provMiva, kind: "credit = refund of the capture", tender: "VC",
		what:  fmt.Sprintf("refund 30.00 of order %s's capture (70.00 by %s)", mvOrder(41), mvDebit.id),
		after: mvDebit, expect: []string{outSettled}, want: ledgerWant{credits: 1, history: "refunded"},
	}).withReq(mvRefund))
	add((&scenario{
		id: id(44), provider: provMiva, kind: "declined by the gateway", tender: "VC",
		what:      "capture 25.00 of order " + mvOrder(44) + "; the payment gateway declines it (scripted)",
		mivaOrder: mvAuth(44, "25.00", "Gateway declined: do not honor"),
		expect:    []string{outRefused}, reasons: []string{"do not honor"},
	}).withReq(synth(id(44), mvOrder(44), messages.SettlementDebit, "25.00", true)))

	// ---- HTTP intake: the RetailOPS seed webhook, posted twice ----

	ro, err := retailOPSScenario(root, r.mivaOrderID(51))
	if err != nil {
		return nil, err
	}
	ro.mivaOrder = &miva.OrderSeed{OrderID: r.mivaOrderID(51), Currency: currency,
		Records: []miva.RecordSeed{{Type: miva.TypeAuth, Amount: ro.amount}}}
	add(ro)

	// ---- HTTP intake: a PaymentSettlementRequestList of two ----

	for _, l := range []struct {
		n      int
		amount string
	}{{61, "12.50"}, {62, "87.25"}} {
		add((&scenario{
			id: id(l.n), via: viaRadialHTTP, group: groupRadialHTTP, kind: "list entry, debit", tender: "VC",
			what:       "debit in the list",
			radialAuth: auth(order(l.n), "100.00"), expect: []string{outSettled},
			want: ledgerWant{debits: 1, history: "S"},
		}).withReq(synth(id(l.n), order(l.n), messages.SettlementDebit, l.amount, true)))
	}

	for _, s := range out {
		if s.provider == "" {
			s.provider = provRadial
		}
		if s.via == "" {
			s.via = viaAMQP
		}
		if s.group == "" {
			s.group = s.provider
		}
		if s.store == "" {
			s.store = map[string]string{provRadial: storeID, provPaysafe: paysafeStore, provFrisbii: frisbiiStore, provMiva: mivaStore}[s.provider]
		}
		if s.body == nil {
			return nil, fmt.Errorf("scenario %s has no body", s.id)
		}
		if s.provider != provRadial || s.via == viaRetailOPS {
			continue
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

// withReq encodes req as the scenario's body and copies its fields.
func (s *scenario) withReq(req *messages.PaymentSettlementRequest) *scenario {
	body, err := messages.Encode(req)
	if err != nil {
		panic(err) // the demo's own requests always encode
	}
	s.body = body
	fillFrom(s, req)
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

// retailOPSSeed is the RetailOPS webhook the intake's tests use.
const retailOPSSeed = "intake/testdata/retailops_order_settle_payment_v1.json"

// retailOPSScenario reads the seed webhook, gives it the run's numeric
// order id, and predicts the request the intake makes of it (README, HTTP
// intake: requestId ro-<channel>-<order>-<series>-<account>, Amount
// available − captured, ClientContext = requestId).
func retailOPSScenario(root string, orderID int64) (*scenario, error) {
	raw, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(retailOPSSeed)))
	if err != nil {
		return nil, fmt.Errorf("RetailOPS seed webhook: %w", err)
	}
	var hook map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&hook); err != nil {
		return nil, fmt.Errorf("RetailOPS seed webhook %s: %w", retailOPSSeed, err)
	}
	obj := func(m any, key string) map[string]any {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm[key].(map[string]any); ok {
				return v
			}
		}
		return nil
	}
	data := obj(hook, "data")
	ord, ch := obj(data, "order"), obj(data, "channel")
	status := obj(ord, "payment_status")
	if ord == nil || ch == nil || status == nil {
		return nil, fmt.Errorf("RetailOPS seed webhook %s: no data.order.payment_status or data.channel", retailOPSSeed)
	}
	accounts, _ := status["by_account"].([]any)
	if len(accounts) != 1 {
		return nil, fmt.Errorf("RetailOPS seed webhook %s: want one payment account, got %d", retailOPSSeed, len(accounts))
	}
	acct, _ := accounts[0].(map[string]any)
	text := func(v any) string { return strings.TrimSpace(fmt.Sprint(v)) }
	channel, series, account := text(ch["id"]), text(ord["payment_series_id"]), text(acct["id"])
	if channel != retailOPSChannel {
		return nil, fmt.Errorf("RetailOPS seed webhook %s: channel %s, the demo maps channel %s", retailOPSSeed, channel, retailOPSChannel)
	}
	avail, err1 := decimal.NewFromString(text(acct["available"]))
	capt, err2 := decimal.NewFromString(text(acct["captured"]))
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("RetailOPS seed webhook %s: available/captured are not numbers", retailOPSSeed)
	}
	ord["id"] = json.Number(strconv.FormatInt(orderID, 10))
	body, err := json.Marshal(hook)
	if err != nil {
		return nil, err
	}
	o := strconv.FormatInt(orderID, 10)
	rid := "ro-" + strings.Join([]string{channel, o, series, account}, "-")
	return &scenario{
		id: rid, provider: provMiva, via: viaRetailOPS, group: groupRetailOPS, store: mivaStore,
		kind: "webhook posted twice", tender: retailOPSTender, order: o, typ: messages.SettlementDebit,
		amount: avail.Sub(capt).StringFixed(2), clientContext: rid, body: body, resend: resendAtOnce,
		what:   fmt.Sprintf("the seed order_settle_payment webhook for order %s (account %s: available %s − captured %s)", o, account, avail, capt),
		expect: []string{outSettled}, want: ledgerWant{debits: 1, history: "captured"},
	}, nil
}

package e2e

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// pvMove is one money movement in a provider sandbox's ledger, normalized
// across providers.
type pvMove struct {
	Credit   bool
	Minor    int64 // amount in minor units of Currency
	Currency string
	State    string // the sandbox's own word (PENDING, settled, S, ...)
	// Live: money moved or is moving (not declined, failed or cancelled).
	Live bool
	// Dropped: the sandbox acted but answered 502 (drop_next).
	Dropped bool
}

// pvDriver drives one provider's sandbox for the table-driven suite in
// providers_test.go. Orders are numeric strings (Miva needs numeric ids;
// the other providers take them as they are).
type pvDriver struct {
	name string
	// authorize seeds an authorization of amount (a decimal in currency)
	// for order that debits of up to amount can capture.
	authorize func(t *testing.T, e *env, order, amount, currency string)
	// refuseFunds seeds order so that confirming funds for a debit of
	// amount (USD) says the funds are not available.
	refuseFunds func(t *testing.T, e *env, order, amount string)
	// decline seeds an authorization for order (USD) that covers amount
	// but whose debit the provider declines with reason.
	decline func(t *testing.T, e *env, order, amount, reason string)
	// failSettle makes the next n settle (capture) calls fail, without
	// acting, with an answer that proves it (a 5xx, or Miva's own refusal).
	failSettle func(t *testing.T, e *env, n int)
	// dropSettle makes the next settle call act, then answer 502.
	dropSettle func(t *testing.T, e *env)
	// lateSettle makes the next settle call commit late: after ms, when
	// the worker's client (2s timeout) has given up.
	lateSettle func(t *testing.T, e *env, ms int)
	// ledger returns the sandbox's movements of a request (Miva has no
	// request key: those of its order).
	ledger func(e *env, requestID, order string) []pvMove
	// headers are the message headers a request of order needs; a credit
	// names the debit it refunds.
	headers func(t *testing.T, e *env, order string, credit bool, debitID string) map[string]string
	// complete, when set, starts settling what is pending at the provider
	// (Paysafe's batch) until the returned func is called.
	complete func(e *env) (stop func())
}

var pvDrivers = []pvDriver{radialDriver, paysafeDriver, frisbiiDriver, mivaDriver}

// minor converts a decimal amount to minor units of currency.
func pvMinor(t *testing.T, amount, currency string) int64 {
	t.Helper()
	m, err := money.Parse(amount, currency)
	if err != nil {
		t.Fatalf("amount %s %s: %v", amount, currency, err)
	}
	n, err := m.MinorUnits()
	if err != nil {
		t.Fatalf("amount %s %s: %v", amount, currency, err)
	}
	return n
}

// minorOr converts without a test (ledger rows); -1 when it cannot.
func pvMinorOr(amount, currency string) int64 {
	m, err := money.Parse(amount, currency)
	if err != nil {
		return -1
	}
	n, err := m.MinorUnits()
	if err != nil {
		return -1
	}
	return n
}

func pvMust(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ---- Radial ----------------------------------------------------------------

var radialDriver = pvDriver{
	name: "radial",
	authorize: func(t *testing.T, e *env, order, amount, currency string) {
		_, err := e.sb.Authorize(radial.Authorization{StoreID: storeID, OrderID: order, Amount: amount, Currency: currency})
		pvMust(t, "radial authorize", err)
	},
	refuseFunds: func(t *testing.T, e *env, order, amount string) {
		_, err := e.sb.Authorize(radial.Authorization{StoreID: storeID, OrderID: order, Amount: amount, Currency: "USD", FundsOutcome: messages.FundsFail})
		pvMust(t, "radial authorize", err)
	},
	decline: func(t *testing.T, e *env, order, amount, reason string) {
		_, err := e.sb.Authorize(radial.Authorization{StoreID: storeID, OrderID: order, Amount: amount, Currency: "USD", SettleVerdict: "R", DeclineReason: reason})
		pvMust(t, "radial authorize", err)
	},
	failSettle: func(t *testing.T, e *env, n int) {
		pvMust(t, "radial faults", e.sb.SetFaults(radial.EndpointSettle, radial.Faults{FailNext: n, FailStatus: 503}))
	},
	dropSettle: func(t *testing.T, e *env) {
		pvMust(t, "radial faults", e.sb.SetFaults(radial.EndpointSettle, radial.Faults{DropNext: 1}))
	},
	lateSettle: func(t *testing.T, e *env, ms int) {
		pvMust(t, "radial faults", e.sb.SetFaults(radial.EndpointSettle, radial.Faults{LateNext: 1, LateMS: ms}))
	},
	ledger: func(e *env, requestID, _ string) []pvMove {
		var out []pvMove
		for _, x := range e.sb.LedgerFiltered(radial.LedgerFilter{RequestID: requestID}) {
			out = append(out, pvMove{Credit: x.Type == messages.SettlementCredit, Minor: pvMinorOr(x.Amount, x.Currency), Currency: x.Currency,
				State: x.State, Live: x.State != "R", Dropped: x.ReplyDropped})
		}
		return out
	},
	headers: func(*testing.T, *env, string, bool, string) map[string]string { return nil },
}

// ---- Paysafe ---------------------------------------------------------------

func paysafeAuthID(order string) string { return "auth-" + order }

var paysafeDriver = pvDriver{
	name: "paysafe",
	authorize: func(t *testing.T, e *env, order, amount, currency string) {
		_, err := e.paysafe.Authorize(paysafe.Authorization{AccountID: paysafeAccount, ID: paysafeAuthID(order),
			Amount: pvMinor(t, amount, currency), Currency: currency})
		pvMust(t, "paysafe authorize", err)
	},
	refuseFunds: func(t *testing.T, e *env, order, amount string) {
		// An authorization of one cent less than the debit.
		_, err := e.paysafe.Authorize(paysafe.Authorization{AccountID: paysafeAccount, ID: paysafeAuthID(order),
			Amount: pvMinor(t, amount, "USD") - 1, Currency: "USD"})
		pvMust(t, "paysafe authorize", err)
	},
	decline: func(t *testing.T, e *env, order, amount, reason string) {
		// Paysafe accepts the settlement (PENDING) and the batch fails it.
		_, err := e.paysafe.Authorize(paysafe.Authorization{AccountID: paysafeAccount, ID: paysafeAuthID(order),
			Amount: pvMinor(t, amount, "USD"), Currency: "USD", BatchOutcome: paysafe.StatusFailed, FailureMessage: reason})
		pvMust(t, "paysafe authorize", err)
	},
	failSettle: func(t *testing.T, e *env, n int) {
		pvMust(t, "paysafe faults", e.paysafe.SetFaults(paysafe.EndpointSettle, paysafe.Faults{FailNext: n, FailStatus: 503}))
	},
	dropSettle: func(t *testing.T, e *env) {
		pvMust(t, "paysafe faults", e.paysafe.SetFaults(paysafe.EndpointSettle, paysafe.Faults{DropNext: 1}))
	},
	lateSettle: func(t *testing.T, e *env, ms int) {
		pvMust(t, "paysafe faults", e.paysafe.SetFaults(paysafe.EndpointSettle, paysafe.Faults{LateNext: 1, LateMS: ms}))
	},
	ledger: func(e *env, requestID, _ string) []pvMove {
		var out []pvMove
		for _, x := range e.paysafe.LedgerFiltered(paysafe.LedgerFilter{AccountID: paysafeAccount, MerchantRefNum: requestID}) {
			out = append(out, pvMove{Credit: x.Kind == paysafe.KindRefund, Minor: x.Amount, Currency: x.Currency, State: x.Status,
				Live: x.Status != paysafe.StatusFailed && x.Status != paysafe.StatusCancelled, Dropped: x.ReplyDropped})
		}
		return out
	},
	headers: func(t *testing.T, e *env, order string, credit bool, debitID string) map[string]string {
		if !credit {
			return map[string]string{"authorization_id": paysafeAuthID(order)}
		}
		st := e.paysafe.LedgerFiltered(paysafe.LedgerFilter{AccountID: paysafeAccount, Kind: paysafe.KindSettlement, MerchantRefNum: debitID})
		if len(st) != 1 {
			t.Fatalf("paysafe: want one settlement of %s to refund, ledger %+v", debitID, st)
		}
		return map[string]string{"settlement_id": st[0].ID}
	},
	complete: func(e *env) func() {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			tk := time.NewTicker(100 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					e.paysafe.RunBatch()
				}
			}
		}()
		var once sync.Once
		return func() { once.Do(func() { close(stop); <-done }) }
	},
}

// ---- Frisbii ---------------------------------------------------------------

var frisbiiDriver = pvDriver{
	name: "frisbii",
	authorize: func(t *testing.T, e *env, order, amount, currency string) {
		_, err := e.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: order, Amount: pvMinor(t, amount, currency), Currency: currency})
		pvMust(t, "frisbii charge", err)
	},
	refuseFunds: func(t *testing.T, e *env, order, amount string) {
		_, err := e.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: order, Amount: pvMinor(t, amount, "USD") - 1, Currency: "USD"})
		pvMust(t, "frisbii charge", err)
	},
	decline: func(t *testing.T, e *env, order, amount, reason string) {
		_, err := e.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: order, Amount: pvMinor(t, amount, "USD"), Currency: "USD",
			Decline: &frisbii.Decline{ErrorState: frisbii.ErrorStateHardDeclined, Error: reason}})
		pvMust(t, "frisbii charge", err)
	},
	failSettle: func(t *testing.T, e *env, n int) {
		pvMust(t, "frisbii faults", e.frisbii.SetFaults(frisbii.EndpointSettle, frisbii.Faults{FailNext: n, FailStatus: 503}))
	},
	dropSettle: func(t *testing.T, e *env) {
		pvMust(t, "frisbii faults", e.frisbii.SetFaults(frisbii.EndpointSettle, frisbii.Faults{DropNext: 1}))
	},
	lateSettle: func(t *testing.T, e *env, ms int) {
		pvMust(t, "frisbii faults", e.frisbii.SetFaults(frisbii.EndpointSettle, frisbii.Faults{LateNext: 1, LateMS: ms}))
	},
	ledger: func(e *env, requestID, _ string) []pvMove {
		var out []pvMove
		for _, x := range e.frisbii.LedgerFiltered(frisbii.LedgerFilter{Key: requestID}) {
			out = append(out, pvMove{Credit: x.Kind == frisbii.EntryRefund, Minor: x.Amount, Currency: x.Currency, State: x.State,
				Live: x.State != frisbii.EntryFailed, Dropped: x.ReplyDropped})
		}
		return out
	},
	headers: func(*testing.T, *env, string, bool, string) map[string]string { return nil },
}

// ---- Miva ------------------------------------------------------------------

func mivaOrder(t *testing.T, order string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(order, 10, 64)
	if err != nil {
		t.Fatalf("miva order %q is not numeric", order)
	}
	return n
}

func mivaSeed(t *testing.T, e *env, order, currency string, auth miva.RecordSeed) {
	t.Helper()
	auth.Type = miva.TypeAuth
	_, err := e.miva.SeedOrder(miva.OrderSeed{OrderID: mivaOrder(t, order), Currency: currency, Records: []miva.RecordSeed{auth}})
	pvMust(t, "miva order", err)
}

var mivaDriver = pvDriver{
	name: "miva",
	authorize: func(t *testing.T, e *env, order, amount, currency string) {
		mivaSeed(t, e, order, currency, miva.RecordSeed{Amount: amount})
	},
	refuseFunds: func(t *testing.T, e *env, order, amount string) {
		m, err := money.FromMinor(pvMinor(t, amount, "USD")-1, "USD")
		pvMust(t, "amount", err)
		mivaSeed(t, e, order, "USD", miva.RecordSeed{Amount: m.String()})
	},
	decline: func(t *testing.T, e *env, order, amount, reason string) {
		mivaSeed(t, e, order, "USD", miva.RecordSeed{Amount: amount, DeclineCapture: reason})
	},
	failSettle: func(t *testing.T, e *env, n int) {
		// Miva's own refusal before the function runs: a bare 503 (the
		// sandbox's FailNext) cannot be told from a proxy's after it
		// forwarded the call, so the worker takes it for a call that may
		// have captured (reconciled after the window, then parked).
		pvMust(t, "miva faults", e.miva.SetFaults(miva.EndpointCapture, miva.Faults{ErrorNext: n, ErrorCode: "access_denied"}))
	},
	dropSettle: func(t *testing.T, e *env) {
		pvMust(t, "miva faults", e.miva.SetFaults(miva.EndpointCapture, miva.Faults{DropNext: 1}))
	},
	lateSettle: func(t *testing.T, e *env, ms int) {
		pvMust(t, "miva faults", e.miva.SetFaults(miva.EndpointCapture, miva.Faults{LateNext: 1, LateMS: ms}))
	},
	ledger: func(e *env, _ string, order string) []pvMove {
		n, err := strconv.ParseInt(order, 10, 64)
		if err != nil {
			return nil
		}
		var out []pvMove
		for _, x := range e.miva.LedgerFiltered(miva.LedgerFilter{OrderID: n}) {
			if x.Function != miva.FunctionCapture && x.Function != miva.FunctionRefund {
				continue
			}
			out = append(out, pvMove{Credit: x.Function == miva.FunctionRefund, Minor: pvMinorOr(x.Amount, x.Currency), Currency: x.Currency,
				State: x.Function, Live: true, Dropped: x.ReplyDropped})
		}
		return out
	},
	headers: func(*testing.T, *env, string, bool, string) map[string]string { return nil },
}

// live returns the live debits (credit=false) or credits of a ledger.
func pvLive(ms []pvMove, credit bool) []pvMove {
	var out []pvMove
	for _, m := range ms {
		if m.Live && m.Credit == credit {
			out = append(out, m)
		}
	}
	return out
}

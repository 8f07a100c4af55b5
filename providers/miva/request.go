package miva

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Keys of the references the client records (ConfirmResult.Refs,
// Outcome.Refs) and reads back (Request.Refs).
const (
	// RefOrderID is the Miva Order_ID.
	RefOrderID = "miva_order_id"
	// RefPaymentID is the payment record acted on: the authorization
	// captured (debit) or the capture record refunded (credit).
	RefPaymentID = "miva_payment_id"
	// RefAvailableBefore is the authorization's available amount when funds
	// were confirmed (exact decimal text).
	RefAvailableBefore = "miva_available_before"
	// RefAuthsBefore lists, comma-separated, every authorization of the
	// order (types 1, 3, 5) whose available covered the debit when funds
	// were confirmed, as "id:available" (exact decimal text): the
	// authorizations Settle may capture (ConfirmFunds' choice, or another
	// when Miva refuses it as beyond its available or expired; an
	// available only falls), the baseline of Reconcile's "available fell
	// without a record" check whichever one it captured.
	RefAuthsBefore = "miva_authorizations_before"
	// RefRecordsBefore lists, comma-separated, the ids of every payment
	// record of the order when funds were confirmed (or when Prepare ran):
	// the baseline Reconcile compares the list with.
	RefRecordsBefore = "miva_records_before"
	// RefCaptureID is the capture record a debit created.
	RefCaptureID = "miva_capture_id"
	// RefRefundID is the refund record a credit created.
	RefRefundID = "miva_refund_id"
	// RefReconciledBy says how Reconcile found an earlier attempt:
	// "new_record" (an available decrease without a record is Unresolved).
	RefReconciledBy = "miva_reconciled_by"
)

// HeaderPaymentID is the request message header that names the payment
// record to use (an authorization for a debit, a capture for a credit)
// instead of the client's choice.
const HeaderPaymentID = "miva_payment_id"

var digits = regexp.MustCompile(`^[0-9]{1,18}$`)

// orderIDOf maps PaymentContext/OrderId (or PaymentContextBase/OrderId) to
// Miva's numeric Order_ID. Only the number's own spelling is accepted
// (no leading zeros, no spaces): the pipeline tells orders apart by their
// OrderId text (the order lock, the sibling settlements a reconciliation
// compares), so "0900" next to "900" would let two settlements of Miva
// order 900 run unserialized and each take the other's record.
func orderIDOf(req *providers.Request) (int64, error) {
	raw := req.OrderID
	if raw == "" && req.Message != nil {
		raw = req.Message.OrderID()
	}
	v := strings.TrimSpace(raw)
	n, err := strconv.ParseInt(v, 10, 64)
	if !digits.MatchString(v) || err != nil || n <= 0 {
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return 0, providers.Permanentf("Miva Order_ID must be numeric (OrderId %q is not a positive integer)", v)
	}
	if canon := strconv.FormatInt(n, 10); raw != canon {
		return 0, providers.Permanentf("OrderId %q names Miva order %d in another spelling (leading zeros or spaces); send it as %q: "+
			"the worker tells orders apart by their OrderId text, so two spellings of one Miva order would be neither serialized nor reconciled together", raw, n, canon)
	}
	return n, nil
}

// amountOf returns the settlement amount and its JSON text with exactly
// the currency's exponent ("1.00" USD, "700" JPY, "1.250" KWD). A
// settlement in another currency than the store's (Config.Currency) is
// refused: Miva would read its number in the store's currency.
func (c *Client) amountOf(req *providers.Request) (decimal.Decimal, string, error) {
	m := req.Amount
	if m.Currency == "" {
		return decimal.Decimal{}, "", providers.Permanentf("the settlement has no amount")
	}
	exp, err := money.Exponent(m.Currency)
	if err != nil {
		return decimal.Decimal{}, "", providers.Permanentf("currency %q is not an ISO 4217 code", m.Currency)
	}
	if m.Currency != c.cfg.Currency {
		return decimal.Decimal{}, "", providers.MismatchBeforeCall(req.Attempt, fmt.Sprintf("the settlement is in %s but the Miva store's currency is %s (MIVA_CURRENCY): Miva's API carries no currency, so it would move %s %s",
			m.Currency, c.cfg.Currency, m.Amount.String(), c.cfg.Currency))
	}
	if !m.IsPositive() {
		return decimal.Decimal{}, "", providers.Permanentf("the settlement amount must be positive (got %s %s)", m.Amount.String(), m.Currency)
	}
	if _, err := m.MinorUnits(); err != nil {
		return decimal.Decimal{}, "", providers.Permanentf("%v", err)
	}
	return m.Amount, m.Amount.StringFixed(int32(exp)), nil
}

// jsonNumber is an amount's JSON number literal.
func jsonNumber(text string) json.Number { return json.Number(text) }

// fmtAmount writes d in the request's currency for reasons ("7.00").
func fmtAmount(req *providers.Request, d decimal.Decimal) string {
	return money.Money{Amount: d, Currency: req.Amount.Currency}.String() + " " + req.Amount.Currency
}

// idList writes the ids of ps, comma-separated, ascending.
func idList(ps []Payment) string {
	ids := make([]int64, 0, len(ps))
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// parseIDList reads a RefRecordsBefore value; ok is false when absent or
// unreadable (an empty order is the present, empty value "").
func parseIDList(refs map[string]string) (map[int64]bool, bool) {
	v, present := refs[RefRecordsBefore]
	if !present {
		return nil, false
	}
	set := map[int64]bool{}
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, false
		}
		set[id] = true
	}
	return set, true
}

// refID reads a record id from refs (ok false when absent).
func refID(refs map[string]string, key string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimSpace(refs[key]), 10, 64)
	return id, err == nil && id > 0
}

// overrideID reads the HeaderPaymentID header (ok false when absent).
func overrideID(req *providers.Request) (int64, bool, error) {
	v := strings.TrimSpace(req.Headers[HeaderPaymentID])
	if v == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, false, providers.Permanentf("header %s must be a Miva payment record id (got %q)", HeaderPaymentID, v)
	}
	return id, true, nil
}

func find(ps []Payment, id int64) (Payment, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return Payment{}, false
}

// authsList writes RefAuthsBefore: "id:available" of every authorization
// of ps whose available covers amount, ascending by id.
func authsList(ps []Payment, amount decimal.Decimal) string {
	var auths []Payment
	for _, p := range ps {
		if IsAuthorization(p.Type) && !p.Available.LessThan(amount) {
			auths = append(auths, p)
		}
	}
	sort.Slice(auths, func(i, j int) bool { return auths[i].ID < auths[j].ID })
	parts := make([]string, len(auths))
	for i, p := range auths {
		parts[i] = strconv.FormatInt(p.ID, 10) + ":" + p.Available.String()
	}
	return strings.Join(parts, ",")
}

// parseAuthsList reads a RefAuthsBefore value; ok is false when absent or
// unreadable (an order where none covered is the present, empty "").
func parseAuthsList(refs map[string]string) (map[int64]decimal.Decimal, bool) {
	v, present := refs[RefAuthsBefore]
	if !present {
		return nil, false
	}
	out := map[int64]decimal.Decimal{}
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		idText, availText, found := strings.Cut(part, ":")
		id, err := strconv.ParseInt(strings.TrimSpace(idText), 10, 64)
		if !found || err != nil {
			return nil, false
		}
		d, err := decimal.NewFromString(strings.TrimSpace(availText))
		if err != nil {
			return nil, false
		}
		out[id] = d
	}
	return out, true
}

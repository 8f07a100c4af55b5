package miva

import (
	"time"

	"github.com/shopspring/decimal"
)

// outcome is what a function did: its answer data and, for money
// movements, the ledger entry recorded.
type outcome struct {
	data  any
	entry *Entry
}

// actLocked runs a function; s.mu must be held.
func (s *Sandbox) actLocked(function string, p params, now time.Time) (outcome, *apiError) {
	switch function {
	case FunctionPaymentList:
		return s.listLocked(p)
	case FunctionCapture:
		return s.captureLocked(p, now)
	case FunctionRefund:
		return s.refundLocked(p, now)
	case FunctionVoid:
		return s.voidLocked(p, now)
	}
	return outcome{}, newErr(CodeInvalidFunction, "Function %q is not supported", function)
}

// listLocked serves OrderPaymentList_Load {Order_ID}.
func (s *Sandbox) listLocked(p params) (outcome, *apiError) {
	id, _, e := p.int64Param("Order_ID", true)
	if e != nil {
		return outcome{}, e
	}
	o := s.orders[id]
	if o == nil {
		return outcome{}, newErr(CodeOrderNotFound, "Order %d not found", id)
	}
	return outcome{data: o.list()}, nil
}

// target finds the OrderPayment_ID record and its order.
func (s *Sandbox) target(p params) (*order, *record, *apiError) {
	id, _, e := p.int64Param("OrderPayment_ID", true)
	if e != nil {
		return nil, nil, e
	}
	r := s.byID[id]
	if r == nil {
		return nil, nil, newErr(CodePaymentNotFound, "Payment record %d not found", id)
	}
	return s.orders[r.orderID], r, nil
}

// captureLocked serves OrderPayment_Capture {OrderPayment_ID, Amount}:
// a capture record of Amount (default: all available) from an
// authorization, which loses that much available. Not idempotent.
func (s *Sandbox) captureLocked(p params, now time.Time) (outcome, *apiError) {
	o, auth, e := s.target(p)
	if e != nil {
		return outcome{}, e
	}
	if !isAuth(auth.typ) {
		return outcome{}, newErr(CodeInvalidPaymentType, "Payment record %d is a %s (type %d) and cannot be captured", auth.id, TypeName(auth.typ), auth.typ)
	}
	amount, given, e := p.amountParam("Amount", o.currency)
	if e != nil {
		return outcome{}, e
	}
	if !given {
		amount = auth.available
	}
	switch {
	case auth.declineCapture != "":
		return outcome{}, declined(CodePaymentDeclined, "%s", auth.declineCapture)
	case auth.expires != 0 && now.Unix() > auth.expires:
		return outcome{}, declined(CodeAuthorizationExpired, "Authorization %d expired", auth.id)
	case !amount.IsPositive() || amount.GreaterThan(auth.available):
		return outcome{}, declined(CodeAmountExceedsAvailable, "Amount %s exceeds the amount available for capture (%s)",
			formatMoney(amount, o.currency), formatMoney(auth.available, o.currency))
	}
	typ := TypeCapture
	if auth.typ == TypeLegacyAuth {
		typ = TypeLegacyCapture
	}
	auth.available = auth.available.Sub(amount)
	r := s.addLocked(o, auth, typ, amount, now)
	return outcome{data: o.totals(), entry: s.entryLocked(FunctionCapture, o, auth, r, now)}, nil
}

// refundLocked serves OrderPayment_Refund {OrderPayment_ID, Amount}: a
// refund record of Amount (default: all refundable) against a capture
// record, at most what it captured less its refunds. Not idempotent.
func (s *Sandbox) refundLocked(p params, now time.Time) (outcome, *apiError) {
	o, capt, e := s.target(p)
	if e != nil {
		return outcome{}, e
	}
	if !isCapture(capt.typ) {
		return outcome{}, newErr(CodeInvalidPaymentType, "Payment record %d is a %s (type %d) and cannot be refunded", capt.id, TypeName(capt.typ), capt.typ)
	}
	left := o.refundable(capt)
	amount, given, e := p.amountParam("Amount", o.currency)
	if e != nil {
		return outcome{}, e
	}
	if !given {
		amount = left
	}
	switch {
	case capt.declineRefund != "":
		return outcome{}, declined(CodePaymentDeclined, "%s", capt.declineRefund)
	case !amount.IsPositive() || amount.GreaterThan(left):
		return outcome{}, declined(CodeAmountExceedsRefundable, "Amount %s exceeds the amount available for refund (%s)",
			formatMoney(amount, o.currency), formatMoney(left, o.currency))
	}
	r := s.addLocked(o, capt, TypeRefund, amount, now)
	return outcome{data: o.totals(), entry: s.entryLocked(FunctionRefund, o, capt, r, now)}, nil
}

// voidLocked serves OrderPayment_VOID {OrderPayment_ID, Amount}: releases
// Amount (default: all) of an authorization's available as a void record.
func (s *Sandbox) voidLocked(p params, now time.Time) (outcome, *apiError) {
	o, auth, e := s.target(p)
	if e != nil {
		return outcome{}, e
	}
	if !isAuth(auth.typ) {
		return outcome{}, newErr(CodeInvalidPaymentType, "Payment record %d is a %s (type %d) and cannot be voided", auth.id, TypeName(auth.typ), auth.typ)
	}
	amount, given, e := p.amountParam("Amount", o.currency)
	if e != nil {
		return outcome{}, e
	}
	if !given {
		amount = auth.available
	}
	if !amount.IsPositive() || amount.GreaterThan(auth.available) {
		return outcome{}, declined(CodeAmountExceedsAvailable, "Amount %s exceeds the amount available to void (%s)",
			formatMoney(amount, o.currency), formatMoney(auth.available, o.currency))
	}
	auth.available = auth.available.Sub(amount)
	r := s.addLocked(o, auth, TypeVoid, amount, now)
	return outcome{data: o.totals(), entry: s.entryLocked(FunctionVoid, o, auth, r, now)}, nil
}

// addLocked appends a derived record with the next id.
func (s *Sandbox) addLocked(o *order, parent *record, typ int, amount decimal.Decimal, now time.Time) *record {
	r := &record{
		id: s.nextID, orderID: o.id, typ: typ, refnum: parent.refnum, amount: amount,
		dtstamp: now.Unix(), payID: parent.payID, paySecID: parent.paySecID, parent: parent.id,
	}
	s.nextID++
	o.records = append(o.records, r)
	s.byID[r.id] = r
	return r
}

// entryLocked records a money movement in the ledger.
func (s *Sandbox) entryLocked(function string, o *order, target, r *record, now time.Time) *Entry {
	s.entrySeq++
	s.entries = append(s.entries, Entry{
		Seq: s.entrySeq, Function: function, StoreCode: s.cfg.StoreCode, OrderID: o.id,
		PaymentID: target.id, RecordID: r.id, Type: r.typ,
		Amount: r.amount.StringFixed(exponentOf(o.currency)), Currency: o.currency, At: now,
	})
	return &s.entries[len(s.entries)-1]
}

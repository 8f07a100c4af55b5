package miva

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/money"
)

// parentTypes lists, per derived record type, the parent types allowed.
var parentTypes = map[int][]int{
	TypeLegacyCapture: {TypeLegacyAuth},
	TypeCapture:       {TypeAuth, TypeAuthCapture},
	TypeRefund:        {TypeLegacyCapture, TypeCapture, TypeAuthCapture},
	TypeVoid:          {TypeLegacyAuth, TypeAuth, TypeAuthCapture},
}

// Validate checks an order seed on its own (ids across orders are checked
// by SeedOrder).
func (o OrderSeed) Validate(defaultCurrency string) error {
	_, err := o.build(defaultCurrency, 0)
	return err
}

// build turns a seed into an order; records without an id get ids from
// next on. now is the dtstamp of records without one.
func (o OrderSeed) build(defaultCurrency string, now int64) (*order, error) {
	var errs []error
	if o.OrderID <= 0 {
		errs = append(errs, errors.New("order_id must be a positive integer"))
	}
	cur := o.Currency
	if cur == "" {
		cur = defaultCurrency
	}
	if !money.ValidCurrency(cur) {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", cur))
		cur = DefaultCurrency
	}
	ord := &order{id: o.OrderID, currency: cur}
	seen := map[int64]*record{}
	for i, rs := range o.Records {
		r, err := rs.build(o.OrderID, cur, now, seen)
		if err != nil {
			errs = append(errs, fmt.Errorf("records[%d]: %w", i, err))
			continue
		}
		if r.id != 0 {
			seen[r.id] = r
		}
		ord.records = append(ord.records, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("order %d: %w", o.OrderID, err)
	}
	return ord, nil
}

// build checks one record seed. Records without an id may not be parents
// (they get their id later).
func (rs RecordSeed) build(orderID int64, cur string, now int64, seen map[int64]*record) (*record, error) {
	if rs.Type < TypeDeclined || rs.Type > TypeVoid {
		return nil, fmt.Errorf("type %d is not 0–7", rs.Type)
	}
	if rs.ID < 0 {
		return nil, errors.New("id must not be negative")
	}
	if rs.ID != 0 && seen[rs.ID] != nil {
		return nil, fmt.Errorf("id %d is used twice", rs.ID)
	}
	amount, err := seedAmount("amount", rs.Amount, cur)
	if err != nil {
		return nil, err
	}
	r := &record{
		id: rs.ID, orderID: orderID, typ: rs.Type, refnum: rs.Refnum, amount: amount,
		dtstamp: rs.DTStamp, expires: rs.Expires, payID: rs.PayID, paySecID: rs.PaySecID,
		parent: rs.ParentID, declineCapture: rs.DeclineCapture, declineRefund: rs.DeclineRefund,
	}
	if r.dtstamp == 0 {
		r.dtstamp = now
	}
	switch {
	case rs.Available != "":
		if r.available, err = seedAmount("available", rs.Available, cur); err != nil {
			return nil, err
		}
		if !isAuth(rs.Type) && r.available.IsPositive() {
			return nil, fmt.Errorf("a %s record has nothing available for capture", TypeName(rs.Type))
		}
		if r.available.GreaterThan(amount) {
			return nil, errors.New("available must not exceed amount")
		}
	case rs.Type == TypeLegacyAuth || rs.Type == TypeAuth:
		r.available = amount
	}
	if rs.Type == TypeAuthCapture {
		r.saleCaptured = amount.Sub(r.available)
	}
	allowed, derived := parentTypes[rs.Type]
	switch {
	case derived && rs.ParentID == 0:
		return nil, fmt.Errorf("a %s record needs parent_id", TypeName(rs.Type))
	case !derived && rs.ParentID != 0:
		return nil, fmt.Errorf("a %s record has no parent", TypeName(rs.Type))
	case derived:
		p := seen[rs.ParentID]
		if p == nil {
			return nil, fmt.Errorf("parent_id %d is not an earlier record of this order with an id", rs.ParentID)
		}
		if !containsInt(allowed, p.typ) {
			return nil, fmt.Errorf("a %s record cannot derive from a %s record", TypeName(rs.Type), TypeName(p.typ))
		}
	}
	if (rs.DeclineCapture != "" && !isAuth(rs.Type)) || (rs.DeclineRefund != "" && !isCapture(rs.Type)) {
		return nil, errors.New("decline_capture applies to authorizations, decline_refund to captures")
	}
	return r, nil
}

// seedAmount parses a seed amount: a non-negative decimal in whole minor units.
func seedAmount(name, v, cur string) (decimal.Decimal, error) {
	d, err := money.ParseDecimal(v)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: %w", name, err)
	}
	if d.IsNegative() {
		return decimal.Decimal{}, fmt.Errorf("%s must not be negative", name)
	}
	if !fitsExponent(d, cur) {
		return decimal.Decimal{}, fmt.Errorf("%s %s has more decimals than %s allows", name, v, cur)
	}
	return d, nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

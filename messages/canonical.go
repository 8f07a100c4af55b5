package messages

import (
	"slices"
	"strings"

	"github.com/settlement-worker/settlement-worker/money"
)

// A request's numbers in canonical text: what Fingerprint encodes, so that
// two spellings of one value ("100.0" and "100.00" USD, a Quantity "2.0"
// and "2", a count "01" and "1") are one request. A value that is not a
// number of its kind is left as it is (and refused by Validate).

// canonicalAmount is an amount's value in canonical text: money.Canonical
// in its currency, or, for an amount whose currency is optional and
// absent, money.CanonicalDecimal.
func canonicalAmount(a *Amount) string {
	if a.CurrencyCode == "" {
		c, _ := money.CanonicalDecimal(a.Value)
		return c
	}
	c, _ := money.Canonical(a.Value, a.CurrencyCode)
	return c
}

// canonicalDecimal is an xsd:decimal's canonical text (Quantity,
// VAT/@rate).
func canonicalDecimal(v string) string {
	c, _ := money.CanonicalDecimal(v)
	return c
}

// canonicalInteger is an xsd:integer's canonical text (ShipmentCount's
// counts); anything else is left as it is.
func canonicalInteger(v string) string {
	if !integerRE.MatchString(strings.Trim(v, " \t\r\n")) {
		return v
	}
	return canonicalDecimal(v)
}

// eachNumber calls f with every number of r and the canonical text of
// its kind, stopping at the first false.
func (r *PaymentSettlementRequest) eachNumber(f func(v *string, canon func(string) string) bool) bool {
	amount := func(a *Amount) bool {
		return a == nil || f(&a.Value, func(string) string { return canonicalAmount(a) })
	}
	vats := func(info *VATRateInfo) bool {
		if info == nil {
			return true
		}
		for i := range info.VAT {
			if !f(&info.VAT[i].Rate, canonicalDecimal) || !amount(info.VAT[i].Amount) {
				return false
			}
		}
		return true
	}
	if !amount(&r.Amount) || !amount(r.TaxAmount) {
		return false
	}
	if d := r.InvoiceData; d != nil {
		if v := d.VATData; v != nil && (!vats(v.VATRateInfo) || !amount(v.BalanceClearedAmount)) {
			return false
		}
		if d.LineItems != nil {
			for i := range d.LineItems.LineItem {
				li := &d.LineItems.LineItem[i]
				if !f(&li.Quantity, canonicalDecimal) || !amount(li.VATInclusiveUnitPrice) || !vats(li.VATRateInfo) {
					return false
				}
			}
		}
	}
	for i := range r.ShipmentData {
		if c := r.ShipmentData[i].ShipmentCount; c != nil && (!f(&c.CurrentCount, canonicalInteger) || !f(&c.TotalCount, canonicalInteger)) {
			return false
		}
	}
	return true
}

// canonicalNumbers returns r when every number of it is in canonical
// text, else a copy of r with its numbers in canonical text (r is not
// changed: the copy has its own copies of every part holding a number).
func (r *PaymentSettlementRequest) canonicalNumbers() *PaymentSettlementRequest {
	if r.eachNumber(func(v *string, canon func(string) string) bool { return canon(*v) == *v }) {
		return r
	}
	c := r.numberParts()
	c.eachNumber(func(v *string, canon func(string) string) bool {
		*v = canon(*v)
		return true
	})
	return c
}

// numberParts is a copy of r that shares no struct or slice holding a
// number with r.
func (r *PaymentSettlementRequest) numberParts() *PaymentSettlementRequest {
	c := *r
	c.TaxAmount = clonePtr(r.TaxAmount)
	if d := r.InvoiceData; d != nil {
		dc := *d
		if v := d.VATData; v != nil {
			vc := *v
			vc.VATRateInfo = cloneVATs(v.VATRateInfo)
			vc.BalanceClearedAmount = clonePtr(v.BalanceClearedAmount)
			dc.VATData = &vc
		}
		if d.LineItems != nil {
			items := slices.Clone(d.LineItems.LineItem)
			for i := range items {
				items[i].VATInclusiveUnitPrice = clonePtr(items[i].VATInclusiveUnitPrice)
				items[i].VATRateInfo = cloneVATs(items[i].VATRateInfo)
			}
			dc.LineItems = &LineItems{LineItem: items}
		}
		c.InvoiceData = &dc
	}
	if r.ShipmentData != nil {
		c.ShipmentData = slices.Clone(r.ShipmentData)
		for i := range c.ShipmentData {
			c.ShipmentData[i].ShipmentCount = clonePtr(c.ShipmentData[i].ShipmentCount)
		}
	}
	return &c
}

// clonePtr is a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// cloneVATs is a copy of info that shares no VAT or amount with it.
func cloneVATs(info *VATRateInfo) *VATRateInfo {
	if info == nil {
		return nil
	}
	vats := slices.Clone(info.VAT)
	for i := range vats {
		vats[i].Amount = clonePtr(vats[i].Amount)
	}
	return &VATRateInfo{VAT: vats}
}

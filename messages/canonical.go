package messages

import (
	"slices"

	"github.com/settlement-worker/settlement-worker/money"
)

// canonical returns the amount with its value in canonical text
// (money.Canonical) when it is a plain decimal in an active currency, else
// as it is.
func (a Amount) canonical() Amount {
	a.Value, _ = money.Canonical(a.Value, a.CurrencyCode)
	return a
}

func (a Amount) isCanonical() bool { return a.canonical().Value == a.Value }

// canonicalPtr is canonical for an optional amount.
func canonicalPtr(a *Amount) *Amount {
	if a == nil {
		return nil
	}
	c := a.canonical()
	return &c
}

// eachAmount calls f with every amount of the request, stopping at the
// first false.
func (r *PaymentSettlementRequest) eachAmount(f func(Amount) bool) bool {
	if !f(r.Amount) || r.TaxAmount != nil && !f(*r.TaxAmount) {
		return false
	}
	vats := func(v *VATRateInfo) bool {
		if v == nil {
			return true
		}
		for _, vat := range v.VAT {
			if vat.Amount != nil && !f(*vat.Amount) {
				return false
			}
		}
		return true
	}
	d := r.InvoiceData
	if d == nil {
		return true
	}
	if v := d.VATData; v != nil {
		if !vats(v.VATRateInfo) || v.BalanceClearedAmount != nil && !f(*v.BalanceClearedAmount) {
			return false
		}
	}
	if d.LineItems != nil {
		for _, li := range d.LineItems.LineItem {
			if li.VATInclusiveUnitPrice != nil && !f(*li.VATInclusiveUnitPrice) || !vats(li.VATRateInfo) {
				return false
			}
		}
	}
	return true
}

// canonicalAmounts returns r when every amount of it is in canonical text,
// else a copy of r with its amounts in canonical text (r is not changed).
func (r *PaymentSettlementRequest) canonicalAmounts() *PaymentSettlementRequest {
	if r.eachAmount(Amount.isCanonical) {
		return r
	}
	c := *r
	c.Amount = r.Amount.canonical()
	c.TaxAmount = canonicalPtr(r.TaxAmount)
	if d := r.InvoiceData; d != nil {
		dc := *d
		if v := d.VATData; v != nil {
			vc := *v
			vc.VATRateInfo = canonicalVATs(v.VATRateInfo)
			vc.BalanceClearedAmount = canonicalPtr(v.BalanceClearedAmount)
			dc.VATData = &vc
		}
		if d.LineItems != nil {
			items := slices.Clone(d.LineItems.LineItem)
			for i := range items {
				items[i].VATInclusiveUnitPrice = canonicalPtr(items[i].VATInclusiveUnitPrice)
				items[i].VATRateInfo = canonicalVATs(items[i].VATRateInfo)
			}
			dc.LineItems = &LineItems{LineItem: items}
		}
		c.InvoiceData = &dc
	}
	return &c
}

// canonicalVATs is a copy of v with its amounts in canonical text.
func canonicalVATs(v *VATRateInfo) *VATRateInfo {
	if v == nil {
		return nil
	}
	vats := slices.Clone(v.VAT)
	for i := range vats {
		vats[i].Amount = canonicalPtr(vats[i].Amount)
	}
	return &VATRateInfo{VAT: vats}
}

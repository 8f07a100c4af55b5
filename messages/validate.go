package messages

import "strconv"

// Enumerations of the PaymentSettlementRequest schema.
var (
	settlementTypes     = []string{SettlementDebit, SettlementCredit}
	settlementStatuses  = []string{StatusSettled, StatusRejected}
	sourceOrderSystems  = []string{"JDA", "STERLING", "PAM", "MAGENTO", "CRMS", "EXTERNAL", "OOMF", "ROMS"}
	invoiceDataTypes    = []string{"sales", "cancel", "return", "credit_memo", "credit_adjust"}
	deliveryOptions     = []string{"STANDARD", "EXPRESS"}
	invoicePresentments = []string{"letter", "email", "web"}
	isTokenValues       = []string{"true", "false"}
)

// Rules of the payment context choice, shared by every message that has it.
const (
	ruleBothContexts   = "PaymentContext and PaymentContextBase are a choice: send only one"
	ruleNeitherContext = "PaymentContext or PaymentContextBase is required: send one"
)

// ruleAtLeastOne is the rule of an empty "Yes, unbounded repetitions" sequence.
const ruleAtLeastOne = "is required (at least one)"

// requestRoot is the path of a PaymentSettlementRequest's root element.
const requestRoot = "PaymentSettlementRequest"

// Maximum lengths shared by several elements.
const (
	maxOrderID          = 20
	maxAccountID        = 22
	maxVATInvoiceNumber = 20
)

// Validate checks the request against every restriction of the Radial
// PaymentSettlementRequest table (required elements, maximum lengths,
// enumerations, amounts, currencies, dates) and returns all problems at
// once as ValidationErrors, or nil.
//
// Where the seed marks an element "must be passed at all times" but its own
// examples omit it (OmsOrderId, LineItem/@lineId, LineItem/ClientItemId,
// LineItem/VATRateInfo), it is checked when present and not required;
// InvoiceId, which every example carries, is required.
func (r *PaymentSettlementRequest) Validate() error {
	v := &validator{}
	if r == nil {
		v.fail(requestRoot, "is required")
		return v.result()
	}
	v.request(requestRoot, r)
	return v.result()
}

// Validate checks every request of the list; paths are numbered from 1:
// "PaymentSettlementRequestList/PaymentSettlementRequest[2]/Amount".
func (l *PaymentSettlementRequestList) Validate() error {
	v := &validator{}
	if l == nil {
		v.fail("PaymentSettlementRequestList", "is required")
		return v.result()
	}
	for i := range l.Requests {
		v.request(indexed("PaymentSettlementRequestList/PaymentSettlementRequest", i), &l.Requests[i])
	}
	return v.result()
}

// indexed returns path[i+1], the XPath numbering of a repeated element.
func indexed(path string, i int) string { return path + "[" + strconv.Itoa(i+1) + "]" }

// request validates one PaymentSettlementRequest under path p.
func (v *validator) request(p string, r *PaymentSettlementRequest) {
	v.requiredMax(p+"/@requestId", r.RequestID, 40)
	v.contexts(p, r.PaymentContext, r.PaymentContextBase)
	v.requiredMax(p+"/InvoiceId", r.InvoiceID, 20)
	v.amount(p+"/Amount", &r.Amount, positive, false)
	// The seed says "positive decimal" for TaxAmount too, but its own
	// example sends <TaxAmount currencyCode="USD">0.00</TaxAmount>: an order
	// without tax is normal, so zero tax is accepted and only negative refused.
	v.amount(p+"/TaxAmount", r.TaxAmount, nonNegative, false)
	if v.required(p+"/SettlementType", r.SettlementType) {
		v.oneOf(p+"/SettlementType", r.SettlementType, settlementTypes...)
	}
	v.dateTime(p+"/AuthorizationDate", r.AuthorizationDate)
	v.yearMonth(p+"/ExpirationDate", r.ExpirationDate)
	v.boolean(p+"/FinalDebit", r.FinalDebit)
	v.maxLen(p+"/OriginatingSystemOrderId", r.OriginatingSystemOrderID, 40)
	v.maxLen(p+"/OmsOrderId", r.OmsOrderID, 30)
	if r.BillingAddress != nil {
		v.billingAddress(p+"/BillingAddress", r.BillingAddress)
	}
	if r.InvoiceData != nil {
		v.invoiceData(p+"/InvoiceData", r.InvoiceData)
	}
	for i := range r.ShipmentData {
		v.shipmentData(indexed(p+"/ShipmentData", i), &r.ShipmentData[i])
	}
	v.oneOf(p+"/SourceOrderSystem", r.SourceOrderSystem, sourceOrderSystems...)
}

// contexts checks the PaymentContext / PaymentContextBase choice of the
// message at path p and the content of whichever is present.
func (v *validator) contexts(p string, pc *PaymentContext, pcb *PaymentContextBase) {
	switch {
	case pc != nil && pcb != nil:
		v.fail(p, ruleBothContexts)
	case pc == nil && pcb == nil:
		v.fail(p, ruleNeitherContext)
	}
	if pc != nil {
		cp := p + "/PaymentContext"
		v.requiredMax(cp+"/OrderId", pc.OrderID, maxOrderID)
		ap := cp + "/PaymentAccountUniqueId"
		v.requiredMax(ap, pc.PaymentAccountUniqueID.Value, maxAccountID)
		if v.required(ap+"/@isToken", pc.PaymentAccountUniqueID.IsToken) {
			v.oneOf(ap+"/@isToken", pc.PaymentAccountUniqueID.IsToken, isTokenValues...)
		}
	}
	if pcb != nil {
		v.requiredMax(p+"/PaymentContextBase/OrderId", pcb.OrderID, maxOrderID)
	}
}

// billingAddress validates BillingAddress: PersonName and Address are
// required in it.
func (v *validator) billingAddress(p string, b *BillingAddress) {
	if n := b.PersonName; n == nil {
		v.fail(p+"/PersonName", "is required")
	} else {
		np := p + "/PersonName"
		v.maxLen(np+"/Honorific", n.Honorific, 10)
		v.requiredMax(np+"/LastName", n.LastName, 64)
		v.maxLen(np+"/MiddleName", n.MiddleName, 40)
		v.maxLen(np+"/FirstName", n.FirstName, 64)
	}
	if a := b.Address; a == nil {
		v.fail(p+"/Address", "is required")
	} else {
		ap := p + "/Address"
		v.requiredMax(ap+"/Line1", a.Line1, 70)
		v.maxLen(ap+"/Line2", a.Line2, 70)
		v.maxLen(ap+"/Line3", a.Line3, 70)
		// Line4: the seed says "Max characters" without a number.
		v.requiredMax(ap+"/City", a.City, 40)
		v.maxLen(ap+"/MainDivision", a.MainDivision, 35)
		v.requiredMax(ap+"/CountryCode", a.CountryCode, 40)
		v.maxLen(ap+"/PostalCode", a.PostalCode, 15)
	}
}

// invoiceData validates InvoiceData and everything under it.
func (v *validator) invoiceData(p string, d *InvoiceData) {
	v.oneOf(p+"/@type", d.Type, invoiceDataTypes...)
	if d.VATData != nil {
		v.vatData(p+"/VATData", d.VATData)
	}
	if d.LineItems != nil {
		lp := p + "/LineItems/LineItem"
		if len(d.LineItems.LineItem) == 0 {
			v.fail(lp, ruleAtLeastOne)
		}
		for i := range d.LineItems.LineItem {
			v.lineItem(indexed(lp, i), &d.LineItems.LineItem[i])
		}
	}
	if d.CustomAttributes != nil {
		v.customAttributes(p+"/CustomAttributes", d.CustomAttributes)
	}
}

// vatInvoiceNumber checks the "20 characters; no white space" restriction.
func (v *validator) vatInvoiceNumber(p, s string) {
	if v.required(p, s) {
		v.maxLen(p, s, maxVATInvoiceNumber)
		v.noWhiteSpace(p, s)
	}
}

// vatData validates InvoiceData/VATData (open invoice tenders).
func (v *validator) vatData(p string, d *VATData) {
	v.vatInvoiceNumber(p+"/VATInvoiceNumber", d.VATInvoiceNumber)
	if v.required(p+"/VATInvoiceDate", d.VATInvoiceDate) {
		v.dateTime(p+"/VATInvoiceDate", d.VATInvoiceDate)
	}
	if o := d.OriginalVATInvoiceDetails; o != nil {
		op := p + "/OriginalVATInvoiceDetails/OriginalVATInvoice"
		if len(o.OriginalVATInvoice) == 0 {
			v.fail(op, ruleAtLeastOne)
		}
		for i, inv := range o.OriginalVATInvoice {
			ip := indexed(op, i)
			v.vatInvoiceNumber(ip+"/OriginalVATInvoiceNumber", inv.OriginalVATInvoiceNumber)
			if v.required(ip+"/OriginalVATInvoiceDate", inv.OriginalVATInvoiceDate) {
				v.dateTime(ip+"/OriginalVATInvoiceDate", inv.OriginalVATInvoiceDate)
			}
		}
	}
	if d.VATRateInfo == nil {
		v.fail(p+"/VATRateInfo", "is required")
	} else {
		v.vatRateInfo(p+"/VATRateInfo", d.VATRateInfo, false)
	}
	if d.BalanceClearedAmount != nil {
		v.amount(p+"/BalanceClearedAmount", d.BalanceClearedAmount, positive, false)
	}
	if v.required(p+"/InvoicePresentment", d.InvoicePresentment) {
		v.oneOf(p+"/InvoicePresentment", d.InvoicePresentment, invoicePresentments...)
	}
}

// vatRateInfo validates a VATRateInfo: at least one VAT, each with a decimal
// @rate and a positive Amount. The line item's VAT/Amount/@currencyCode is
// "C" (conditional) in the seed, so currencyOptional is true there.
func (v *validator) vatRateInfo(p string, info *VATRateInfo, currencyOptional bool) {
	vp := p + "/VAT"
	if len(info.VAT) == 0 {
		v.fail(vp, ruleAtLeastOne)
	}
	for i := range info.VAT {
		ip := indexed(vp, i)
		vat := &info.VAT[i]
		if v.required(ip+"/@rate", vat.Rate) {
			v.decimalValue(ip+"/@rate", vat.Rate)
		}
		v.amount(ip+"/Amount", vat.Amount, positive, currencyOptional)
	}
}

// lineItem validates one InvoiceData/LineItems/LineItem.
func (v *validator) lineItem(p string, li *LineItem) {
	if li.LidCode != "" {
		v.lenBetween(p+"/@lidCode", li.LidCode, 4, 7)
	}
	v.requiredMax(p+"/ItemId", li.ItemID, 20)
	if v.required(p+"/Quantity", li.Quantity) {
		v.decimalValue(p+"/Quantity", li.Quantity)
	}
	v.requiredMax(p+"/ItemShortDescription", li.ItemShortDescription, 100)
	if li.VATInclusiveUnitPrice != nil {
		v.amount(p+"/VATInclusiveUnitPrice", li.VATInclusiveUnitPrice, positive, false)
	}
	if li.VATRateInfo != nil {
		v.vatRateInfo(p+"/VATRateInfo", li.VATRateInfo, true)
	}
	if li.CustomAttributes != nil {
		v.customAttributes(p+"/CustomAttributes", li.CustomAttributes)
	}
}

// customAttributes validates a CustomAttributes: at least one
// CustomAttribute, each with a Key and a normalizedString Value.
func (v *validator) customAttributes(p string, c *CustomAttributes) {
	cp := p + "/CustomAttribute"
	if len(c.CustomAttribute) == 0 {
		v.fail(cp, ruleAtLeastOne)
	}
	for i, a := range c.CustomAttribute {
		ip := indexed(cp, i)
		v.required(ip+"/Key", a.Key)
		if v.required(ip+"/Value", a.Value) {
			v.normalized(ip+"/Value", a.Value)
		}
	}
}

// shipmentData validates one ShipmentData.
func (v *validator) shipmentData(p string, s *ShipmentData) {
	if c := s.ShipmentCount; c != nil {
		cp := p + "/ShipmentCount"
		if v.required(cp+"/CurrentCount", c.CurrentCount) {
			v.integer(cp+"/CurrentCount", c.CurrentCount)
		}
		if v.required(cp+"/TotalCount", c.TotalCount) {
			v.integer(cp+"/TotalCount", c.TotalCount)
		}
	}
	if v.required(p+"/ShippedDate", s.ShippedDate) {
		v.dateTime(p+"/ShippedDate", s.ShippedDate)
	}
	if s.Carrier != nil {
		v.required(p+"/Carrier/Name", s.Carrier.Name)
	}
	v.oneOf(p+"/DeliveryOption", s.DeliveryOption, deliveryOptions...)
}

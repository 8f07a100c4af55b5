package messages

import "strings"

// Validate checks the values of a PaymentSettlementStatus against the
// status table and the schema's types: the context choice and its ids
// (OrderId at most 20 characters, PaymentAccountUniqueId at most 22 with
// isToken true or false), TenderType (2 to 4 characters), a positive
// xsd:decimal Amount with at most two fraction digits and a currency the
// schema lists (SchemaCurrency), SettlementType Debit|Credit,
// SettlementStatus S|R and StoreId (at most 100 characters). It returns all
// problems at once as ValidationErrors, or nil. The order and presence of
// the elements in an encoded document are ValidateStatusDocument's to
// check.
func (s *PaymentSettlementStatus) Validate() error {
	v := &validator{}
	if s == nil {
		v.fail("PaymentSettlementStatus", "is required")
		return v.result()
	}
	v.status("PaymentSettlementStatus", s)
	return v.result()
}

// Validate checks every status of the list; paths are numbered from 1:
// "PaymentSettlementStatusList/PaymentSettlementStatus[2]/StoreId".
func (l *PaymentSettlementStatusList) Validate() error {
	v := &validator{}
	if l == nil {
		v.fail("PaymentSettlementStatusList", "is required")
		return v.result()
	}
	for i := range l.Statuses {
		v.status(indexed("PaymentSettlementStatusList/PaymentSettlementStatus", i), &l.Statuses[i])
	}
	return v.result()
}

// status validates one PaymentSettlementStatus under path p.
func (v *validator) status(p string, s *PaymentSettlementStatus) {
	v.contexts(p, s.PaymentContext, s.PaymentContextBase)
	if v.required(p+"/TenderType", s.TenderType) {
		v.lenBetween(p+"/TenderType", s.TenderType, 2, 4)
	}
	v.amount(p+"/Amount", &s.Amount, positive, false)
	if v.required(p+"/SettlementType", s.SettlementType) {
		v.oneOf(p+"/SettlementType", s.SettlementType, settlementTypes...)
	}
	if v.required(p+"/SettlementStatus", s.SettlementStatus) {
		v.oneOf(p+"/SettlementStatus", s.SettlementStatus, settlementStatuses...)
	}
	v.requiredMax(p+"/StoreId", s.StoreID, 100)
}

// Validate checks a ConfirmFundsRequest before it is sent: requestId (at most
// 40 characters), the context choice, a positive Amount with its currency
// (the original authorization amount) and PerformReauthorization, which the
// seed says must be true before a debit.
func (c *ConfirmFundsRequest) Validate() error {
	const p = "ConfirmFundsRequest"
	v := &validator{}
	if c == nil {
		v.fail(p, "is required")
		return v.result()
	}
	v.requiredMax(p+"/@requestId", c.RequestID, 40)
	v.contexts(p, c.PaymentContext, c.PaymentContextBase)
	v.amount(p+"/Amount", &c.Amount, positive, false)
	if !c.PerformReauthorization {
		v.fail(p+"/PerformReauthorization", "must be true (confirm funds before a debit)")
	}
	return v.result()
}

// Validate checks a ConfirmFundsReply received from Radial: FundsAvailable
// is required and one of Success, Fail, Timeout; ReauthorizationAttempted,
// when present, is true or false.
func (c *ConfirmFundsReply) Validate() error {
	const p = "ConfirmFundsReply"
	v := &validator{}
	if c == nil {
		v.fail(p, "is required")
		return v.result()
	}
	if v.required(p+"/FundsAvailable", c.FundsAvailable) {
		v.oneOf(p+"/FundsAvailable", c.FundsAvailable, FundsSuccess, FundsFail, FundsTimeout)
	}
	v.boolean(p+"/ReauthorizationAttempted", strings.TrimSpace(c.ReauthorizationAttempted))
	return v.result()
}

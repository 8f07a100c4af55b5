package messages

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// validStatus is a valid PaymentSettlementStatus.
func validStatus() *PaymentSettlementStatus {
	return &PaymentSettlementStatus{
		PaymentContext:   &PaymentContext{OrderID: "12345", PaymentAccountUniqueID: AccountID{IsToken: "true", Value: "4111110PASeK1111"}},
		TenderType:       "VC",
		Amount:           Amount{CurrencyCode: "USD", Value: "100.00"},
		SettlementType:   SettlementDebit,
		SettlementStatus: StatusSettled,
		ClientContext:    "987654321",
		StoreID:          "ABCXYZ",
	}
}

func TestValidateStatusRules(t *testing.T) {
	const s = "PaymentSettlementStatus"
	tests := []struct {
		name   string
		mutate func(st *PaymentSettlementStatus)
		path   string
		rule   string
	}{
		{"valid", func(*PaymentSettlementStatus) {}, "", ""},
		{"rejected with reason", func(st *PaymentSettlementStatus) {
			st.SettlementStatus, st.DeclineReason = StatusRejected, "Insufficient"
		}, "", ""},
		{"both contexts", func(st *PaymentSettlementStatus) { st.PaymentContextBase = &PaymentContextBase{OrderID: "1"} }, s, "PaymentContext and PaymentContextBase are a choice: send only one"},
		{"neither context", func(st *PaymentSettlementStatus) { st.PaymentContext = nil }, s, "PaymentContext or PaymentContextBase is required: send one"},
		{"OrderId of 21", func(st *PaymentSettlementStatus) { st.PaymentContext.OrderID = chars(21) }, s + "/PaymentContext/OrderId", "must be at most 20 characters (got 21)"},
		{"TenderType of 1", func(st *PaymentSettlementStatus) { st.TenderType = "V" }, s + "/TenderType", "must be 2 to 4 characters (got 1)"},
		{"TenderType of 5", func(st *PaymentSettlementStatus) { st.TenderType = "VISAX" }, s + "/TenderType", "must be 2 to 4 characters (got 5)"},
		{"TenderType of 4", func(st *PaymentSettlementStatus) { st.TenderType = "VISA" }, "", ""},
		{"missing TenderType", func(st *PaymentSettlementStatus) { st.TenderType = "" }, s + "/TenderType", "is required"},
		{"Amount -1", func(st *PaymentSettlementStatus) { st.Amount.Value = "-1" }, s + "/Amount", `must be a positive amount (got "-1")`},
		{"Amount currency usd", func(st *PaymentSettlementStatus) { st.Amount.CurrencyCode = "usd" }, s + "/Amount/@currencyCode", `must be an upper-case ISO 4217 currency code (got "usd")`},
		{"SettlementType Capture", func(st *PaymentSettlementStatus) { st.SettlementType = "Capture" }, s + "/SettlementType", `must be one of Debit, Credit (got "Capture")`},
		{"SettlementStatus X", func(st *PaymentSettlementStatus) { st.SettlementStatus = "X" }, s + "/SettlementStatus", `must be one of S, R (got "X")`},
		{"missing SettlementStatus", func(st *PaymentSettlementStatus) { st.SettlementStatus = "" }, s + "/SettlementStatus", "is required"},
		// Issue 7: each value an invalid request may carry, as the schema
		// types it (Amount/@currencyCode is ISOCurrencyCodeType, Amount is a
		// decimal with two fraction digits, SettlementType an enumeration).
		{"Amount currency US", func(st *PaymentSettlementStatus) { st.Amount.CurrencyCode = "US" }, s + "/Amount/@currencyCode", `must be an active 3-letter ISO 4217 currency code (got "US")`},
		{"Amount currency XYZ", func(st *PaymentSettlementStatus) { st.Amount.CurrencyCode = "XYZ" }, s + "/Amount/@currencyCode", `must be an active 3-letter ISO 4217 currency code (got "XYZ")`},
		{"Amount currency EEK, withdrawn but in the schema's list", func(st *PaymentSettlementStatus) { st.Amount.CurrencyCode = "EEK" }, s + "/Amount/@currencyCode", `must be an active 3-letter ISO 4217 currency code (got "EEK")`},
		{"Amount currency ZMW, active but not in the schema's list", func(st *PaymentSettlementStatus) { st.Amount.CurrencyCode = "ZMW" }, s + "/Amount/@currencyCode", `must be one of the ISO 4217 codes Radial's schema enumerates (ISOCurrencyCodeType), which lacks this active code (got "ZMW")`},
		{"missing currency", func(st *PaymentSettlementStatus) { st.Amount.CurrencyCode = "" }, s + "/Amount/@currencyCode", "is required"},
		{"Amount ten dollars", func(st *PaymentSettlementStatus) { st.Amount.Value = "ten dollars" }, s + "/Amount", `must be a decimal number (got "ten dollars")`},
		{"Amount 1e3", func(st *PaymentSettlementStatus) { st.Amount.Value = "1e3" }, s + "/Amount", `must be a decimal number (got "1e3")`},
		{"Amount padded with a no-break space", func(st *PaymentSettlementStatus) { st.Amount.Value = "\u00a010.00" }, s + "/Amount", `must be a decimal number (got "\u00a010.00")`},
		{"Amount padded with XML white space", func(st *PaymentSettlementStatus) { st.Amount.Value = "\n 10.00\t" }, "", ""},
		{"Amount 10.001", func(st *PaymentSettlementStatus) { st.Amount.Value = "10.001" }, s + "/Amount", `must have at most 2 decimal places (got "10.001")`},
		{"Amount 0.00", func(st *PaymentSettlementStatus) { st.Amount.Value = "0.00" }, s + "/Amount", `must be a positive amount (got "0.00")`},
		{"missing Amount", func(st *PaymentSettlementStatus) { st.Amount.Value = "" }, s + "/Amount", "is required"},
		{"isToken yes", func(st *PaymentSettlementStatus) { st.PaymentContext.PaymentAccountUniqueID.IsToken = "yes" }, s + "/PaymentContext/PaymentAccountUniqueId/@isToken", `must be one of true, false (got "yes")`},
		{"account of 22", func(st *PaymentSettlementStatus) { st.PaymentContext.PaymentAccountUniqueID.Value = chars(22) }, "", ""},
		{"account of 23", func(st *PaymentSettlementStatus) { st.PaymentContext.PaymentAccountUniqueID.Value = chars(23) }, s + "/PaymentContext/PaymentAccountUniqueId", "must be at most 22 characters (got 23)"},
		{"missing OrderId", func(st *PaymentSettlementStatus) { st.PaymentContext.OrderID = "" }, s + "/PaymentContext/OrderId", "is required"},
		{"PaymentContextBase OrderId of 21", func(st *PaymentSettlementStatus) {
			st.PaymentContext, st.PaymentContextBase = nil, &PaymentContextBase{OrderID: chars(21)}
		}, s + "/PaymentContextBase/OrderId", "must be at most 20 characters (got 21)"},
		{"SettlementType debit", func(st *PaymentSettlementStatus) { st.SettlementType = "debit" }, s + "/SettlementType", `must be one of Debit, Credit (got "debit")`},
		{"missing SettlementType", func(st *PaymentSettlementStatus) { st.SettlementType = "" }, s + "/SettlementType", "is required"},
		{"StoreId of 100", func(st *PaymentSettlementStatus) { st.StoreID = chars(100) }, "", ""},
		{"StoreId of 101", func(st *PaymentSettlementStatus) { st.StoreID = chars(101) }, s + "/StoreId", "must be at most 100 characters (got 101)"},
		{"missing StoreId", func(st *PaymentSettlementStatus) { st.StoreID = "" }, s + "/StoreId", "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := validStatus()
			tt.mutate(st)
			err := st.Validate()
			if tt.path == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var errs ValidationErrors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate() = %v, want ValidationErrors", err)
			}
			if want := (ValidationErrors{{Path: tt.path, Rule: tt.rule}}); !reflect.DeepEqual(errs, want) {
				t.Errorf("Validate() = %q, want %q", errs, want)
			}
		})
	}
}

func TestValidateStatusList(t *testing.T) {
	bad := validStatus()
	bad.StoreID = chars(101)
	bad.TenderType = ""
	l := &PaymentSettlementStatusList{Statuses: []PaymentSettlementStatus{*validStatus(), *bad}}
	err := l.Validate()
	want := "PaymentSettlementStatusList/PaymentSettlementStatus[2]/TenderType: is required; " +
		"PaymentSettlementStatusList/PaymentSettlementStatus[2]/StoreId: must be at most 100 characters (got 101)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

func TestValidateConfirmFunds(t *testing.T) {
	req := &ConfirmFundsRequest{
		RequestID:              "r-1",
		PaymentContextBase:     &PaymentContextBase{OrderID: "12345"},
		Amount:                 Amount{CurrencyCode: "USD", Value: "100.00"},
		PerformReauthorization: true,
	}
	if err := req.Validate(); err != nil {
		t.Fatalf("valid ConfirmFundsRequest: %v", err)
	}
	req.PerformReauthorization = false
	req.RequestID = chars(41)
	err := req.Validate()
	if err == nil || !strings.Contains(err.Error(), "ConfirmFundsRequest/PerformReauthorization: must be true") ||
		!strings.Contains(err.Error(), "ConfirmFundsRequest/@requestId: must be at most 40 characters (got 41)") {
		t.Errorf("Validate() = %v", err)
	}

	reply := &ConfirmFundsReply{FundsAvailable: FundsFail, ReauthorizationAttempted: "true"}
	if err := reply.Validate(); err != nil {
		t.Errorf("valid reply: %v", err)
	}
	reply.FundsAvailable = "Maybe"
	if err := reply.Validate(); err == nil || err.Error() != `ConfirmFundsReply/FundsAvailable: must be one of Success, Fail, Timeout (got "Maybe")` {
		t.Errorf("Validate() = %v", err)
	}
}

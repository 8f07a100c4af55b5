package messages

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const reqRoot = "PaymentSettlementRequest"

// validRequest is a request with every optional section filled in, valid.
func validRequest() *PaymentSettlementRequest {
	vat := func() *VATRateInfo {
		return &VATRateInfo{VAT: []VAT{{Rate: "19.0", VATRegistrationID: "DE123", Amount: &Amount{CurrencyCode: "EUR", Value: "1.90"}}}}
	}
	attrs := func() *CustomAttributes {
		return &CustomAttributes{CustomAttribute: []CustomAttribute{{Key: "k", Value: "v"}}}
	}
	return &PaymentSettlementRequest{
		RequestID:                 "6a1f3e0c-9d2b-4c8e-a7f1-0b5d4e3c2a19",
		PaymentContext:            &PaymentContext{OrderID: "OrderId01013", PaymentAccountUniqueID: AccountID{IsToken: "true", Value: "4111110PASeK1111"}},
		InvoiceID:                 "con10000148398750_0",
		Amount:                    Amount{CurrencyCode: "USD", Value: "55.00"},
		TaxAmount:                 &Amount{CurrencyCode: "USD", Value: "4.75"},
		SettlementType:            SettlementDebit,
		AuthorizationResponseCode: "123456",
		AuthorizationDate:         "2021-04-28T11:56:00.998Z",
		ExpirationDate:            "2030-10-05:00",
		ClientContext:             "9841238411317",
		FinalDebit:                "true",
		OriginatingSystemOrderID:  "orig-1",
		OmsOrderID:                "oms-1",
		BillingAddress: &BillingAddress{
			PersonName: &PersonName{Honorific: "Dr.", LastName: "Doe", MiddleName: "Q", FirstName: "John"},
			Address:    &Address{Line1: "25 Oak Ln", Line2: "Apt 4", Line3: "c/o", Line4: "x", City: "Miami", MainDivision: "FL", CountryCode: "US", PostalCode: "74354"},
		},
		InvoiceData: &InvoiceData{
			Type: "sales",
			VATData: &VATData{
				VATInvoiceNumber:          "INV-0001",
				VATInvoiceDate:            "2021-05-10T21:59:13Z",
				OriginalVATInvoiceDetails: &OriginalVATInvoiceDetails{OriginalVATInvoice: []OriginalVATInvoice{{OriginalVATInvoiceNumber: "INV-0000", OriginalVATInvoiceDate: "2021-05-01"}}},
				VATRateInfo:               vat(),
				BalanceClearedAmount:      &Amount{CurrencyCode: "EUR", Value: "10.00"},
				InvoicePresentment:        "email",
			},
			LineItems: &LineItems{LineItem: []LineItem{{
				LidCode:               "ABCD",
				LineID:                "1",
				ItemID:                "15123",
				ClientItemID:          "c-15123",
				Quantity:              "1.5",
				ItemShortDescription:  "NA",
				VATInclusiveUnitPrice: &Amount{CurrencyCode: "EUR", Value: "11.90"},
				VATRateInfo:           vat(),
				CustomAttributes:      attrs(),
			}}},
			CustomAttributes: attrs(),
		},
		ShipmentData: []ShipmentData{{
			ShipmentCount:  &ShipmentCount{CurrentCount: "1", TotalCount: "2"},
			ShippedDate:    "2021-05-10T21:59:13Z",
			Carrier:        &Carrier{Name: "FEDEX", Service: "Ground"},
			TrackingID:     "78699817734",
			DeliveryOption: "EXPRESS",
		}},
		RefundReason:           "none",
		ReferenceTransactionID: "ref-1",
		SourceOrderSystem:      "OOMF",
	}
}

func TestValidRequest(t *testing.T) {
	if err := validRequest().Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}

// chars returns n copies of "a".
func chars(n int) string { return strings.Repeat("a", n) }

func TestValidateRequestRules(t *testing.T) {
	const (
		ba  = reqRoot + "/BillingAddress"
		vd  = reqRoot + "/InvoiceData/VATData"
		li  = reqRoot + "/InvoiceData/LineItems/LineItem[1]"
		sd  = reqRoot + "/ShipmentData[1]"
		acc = reqRoot + "/PaymentContext/PaymentAccountUniqueId"
	)
	tests := []struct {
		name   string
		mutate func(r *PaymentSettlementRequest)
		path   string // "" when the mutation is valid
		rule   string
	}{
		// requestId
		{"missing requestId", func(r *PaymentSettlementRequest) { r.RequestID = "" }, reqRoot + "/@requestId", "is required"},
		{"blank requestId", func(r *PaymentSettlementRequest) { r.RequestID = "  " }, reqRoot + "/@requestId", "is required"},
		{"requestId of 40", func(r *PaymentSettlementRequest) { r.RequestID = chars(40) }, "", ""},
		{"requestId of 41", func(r *PaymentSettlementRequest) { r.RequestID = chars(41) }, reqRoot + "/@requestId", "must be at most 40 characters (got 41)"},
		// context choice
		{"both contexts", func(r *PaymentSettlementRequest) { r.PaymentContextBase = &PaymentContextBase{OrderID: "12345"} }, reqRoot, "PaymentContext and PaymentContextBase are a choice: send only one"},
		{"neither context", func(r *PaymentSettlementRequest) { r.PaymentContext = nil }, reqRoot, "PaymentContext or PaymentContextBase is required: send one"},
		{"PaymentContextBase only", func(r *PaymentSettlementRequest) {
			r.PaymentContext, r.PaymentContextBase = nil, &PaymentContextBase{OrderID: "12345"}
		}, "", ""},
		{"OrderId of 21", func(r *PaymentSettlementRequest) { r.PaymentContext.OrderID = chars(21) }, reqRoot + "/PaymentContext/OrderId", "must be at most 20 characters (got 21)"},
		{"missing OrderId", func(r *PaymentSettlementRequest) { r.PaymentContext.OrderID = "" }, reqRoot + "/PaymentContext/OrderId", "is required"},
		{"base OrderId of 21", func(r *PaymentSettlementRequest) {
			r.PaymentContext, r.PaymentContextBase = nil, &PaymentContextBase{OrderID: chars(21)}
		}, reqRoot + "/PaymentContextBase/OrderId", "must be at most 20 characters (got 21)"},
		{"base missing OrderId", func(r *PaymentSettlementRequest) { r.PaymentContext, r.PaymentContextBase = nil, &PaymentContextBase{} }, reqRoot + "/PaymentContextBase/OrderId", "is required"},
		{"account of 22", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.Value = chars(22) }, "", ""},
		{"account of 23", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.Value = chars(23) }, acc, "must be at most 22 characters (got 23)"},
		{"missing account", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.Value = "" }, acc, "is required"},
		{"isToken false", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.IsToken = "false" }, "", ""},
		{"isToken yes", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.IsToken = "yes" }, acc + "/@isToken", `must be one of true, false (got "yes")`},
		{"isToken 1", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.IsToken = "1" }, acc + "/@isToken", `must be one of true, false (got "1")`},
		{"missing isToken", func(r *PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.IsToken = "" }, acc + "/@isToken", "is required"},
		// InvoiceId
		{"missing InvoiceId", func(r *PaymentSettlementRequest) { r.InvoiceID = "" }, reqRoot + "/InvoiceId", "is required"},
		{"InvoiceId of 21", func(r *PaymentSettlementRequest) { r.InvoiceID = chars(21) }, reqRoot + "/InvoiceId", "must be at most 20 characters (got 21)"},
		// Amount
		{"amount -1.00", func(r *PaymentSettlementRequest) { r.Amount.Value = "-1.00" }, reqRoot + "/Amount", `must be a positive amount (got "-1.00")`},
		{"amount 0.00", func(r *PaymentSettlementRequest) { r.Amount.Value = "0.00" }, reqRoot + "/Amount", `must be a positive amount (got "0.00")`},
		{"amount 1.001", func(r *PaymentSettlementRequest) { r.Amount.Value = "1.001" }, reqRoot + "/Amount", `must have at most 2 decimal places (got "1.001")`},
		{"amount 1.500 has one significant decimal", func(r *PaymentSettlementRequest) { r.Amount.Value = "1.500" }, "", ""},
		{"amount 4.75", func(r *PaymentSettlementRequest) { r.Amount.Value = "4.75" }, "", ""},
		{"amount 100", func(r *PaymentSettlementRequest) { r.Amount.Value = "100" }, "", ""},
		{"amount abc", func(r *PaymentSettlementRequest) { r.Amount.Value = "abc" }, reqRoot + "/Amount", `must be a decimal number (got "abc")`},
		{"amount 1e3", func(r *PaymentSettlementRequest) { r.Amount.Value = "1e3" }, reqRoot + "/Amount", `must be a decimal number (got "1e3")`},
		{"amount 1,000.00", func(r *PaymentSettlementRequest) { r.Amount.Value = "1,000.00" }, reqRoot + "/Amount", `must be a decimal number (got "1,000.00")`},
		{"missing amount", func(r *PaymentSettlementRequest) { r.Amount.Value = "" }, reqRoot + "/Amount", "is required"},
		{"currency usd", func(r *PaymentSettlementRequest) { r.Amount.CurrencyCode = "usd" }, reqRoot + "/Amount/@currencyCode", `must be an upper-case ISO 4217 currency code (got "usd")`},
		{"currency XXX", func(r *PaymentSettlementRequest) { r.Amount.CurrencyCode = "XXX" }, reqRoot + "/Amount/@currencyCode", `must be an active 3-letter ISO 4217 currency code (got "XXX")`},
		{"currency ABC", func(r *PaymentSettlementRequest) { r.Amount.CurrencyCode = "ABC" }, reqRoot + "/Amount/@currencyCode", `must be an active 3-letter ISO 4217 currency code (got "ABC")`},
		{"currency USDX", func(r *PaymentSettlementRequest) { r.Amount.CurrencyCode = "USDX" }, reqRoot + "/Amount/@currencyCode", `must be an active 3-letter ISO 4217 currency code (got "USDX")`},
		{"missing currency", func(r *PaymentSettlementRequest) { r.Amount.CurrencyCode = "" }, reqRoot + "/Amount/@currencyCode", "is required"},
		{"JPY 100.50", func(r *PaymentSettlementRequest) { r.Amount = Amount{CurrencyCode: "JPY", Value: "100.50"} }, reqRoot + "/Amount", `must have at most 0 decimal places for JPY (got "100.50")`},
		{"JPY 100.00", func(r *PaymentSettlementRequest) { r.Amount = Amount{CurrencyCode: "JPY", Value: "100.00"} }, "", ""},
		{"JPY 100", func(r *PaymentSettlementRequest) { r.Amount = Amount{CurrencyCode: "JPY", Value: "100"} }, "", ""},
		{"KWD 1.25", func(r *PaymentSettlementRequest) { r.Amount = Amount{CurrencyCode: "KWD", Value: "1.25"} }, "", ""},
		{"KWD 1.125 beyond the seed's two places", func(r *PaymentSettlementRequest) { r.Amount = Amount{CurrencyCode: "KWD", Value: "1.125"} }, reqRoot + "/Amount", `must have at most 2 decimal places (got "1.125")`},
		// TaxAmount
		{"missing TaxAmount", func(r *PaymentSettlementRequest) { r.TaxAmount = nil }, reqRoot + "/TaxAmount", "is required"},
		{"TaxAmount 0.00", func(r *PaymentSettlementRequest) { r.TaxAmount.Value = "0.00" }, "", ""},
		{"TaxAmount -0.01", func(r *PaymentSettlementRequest) { r.TaxAmount.Value = "-0.01" }, reqRoot + "/TaxAmount", `must not be negative (got "-0.01")`},
		{"TaxAmount 1.001", func(r *PaymentSettlementRequest) { r.TaxAmount.Value = "1.001" }, reqRoot + "/TaxAmount", `must have at most 2 decimal places (got "1.001")`},
		{"TaxAmount currency eur", func(r *PaymentSettlementRequest) { r.TaxAmount.CurrencyCode = "eur" }, reqRoot + "/TaxAmount/@currencyCode", `must be an upper-case ISO 4217 currency code (got "eur")`},
		{"TaxAmount JPY 0.5", func(r *PaymentSettlementRequest) { r.TaxAmount = &Amount{CurrencyCode: "JPY", Value: "0.5"} }, reqRoot + "/TaxAmount", `must have at most 0 decimal places for JPY (got "0.5")`},
		// SettlementType
		{"SettlementType Capture", func(r *PaymentSettlementRequest) { r.SettlementType = "Capture" }, reqRoot + "/SettlementType", `must be one of Debit, Credit (got "Capture")`},
		{"SettlementType debit", func(r *PaymentSettlementRequest) { r.SettlementType = "debit" }, reqRoot + "/SettlementType", `must be one of Debit, Credit (got "debit")`},
		{"SettlementType Credit", func(r *PaymentSettlementRequest) { r.SettlementType = "Credit" }, "", ""},
		{"missing SettlementType", func(r *PaymentSettlementRequest) { r.SettlementType = "" }, reqRoot + "/SettlementType", "is required"},
		// dates and flags
		{"AuthorizationDate yesterday", func(r *PaymentSettlementRequest) { r.AuthorizationDate = "yesterday" }, reqRoot + "/AuthorizationDate", `must be a date-time such as 2021-05-10T21:59:13Z (got "yesterday")`},
		{"AuthorizationDate Feb 30", func(r *PaymentSettlementRequest) { r.AuthorizationDate = "2021-02-30T00:00:00Z" }, reqRoot + "/AuthorizationDate", `must be a date-time such as 2021-05-10T21:59:13Z (got "2021-02-30T00:00:00Z")`},
		{"AuthorizationDate 25h", func(r *PaymentSettlementRequest) { r.AuthorizationDate = "2021-02-03T25:00:00" }, reqRoot + "/AuthorizationDate", `must be a date-time such as 2021-05-10T21:59:13Z (got "2021-02-03T25:00:00")`},
		{"AuthorizationDate offset", func(r *PaymentSettlementRequest) { r.AuthorizationDate = "2021-04-28T11:56:00+05:30" }, "", ""},
		{"AuthorizationDate date only", func(r *PaymentSettlementRequest) { r.AuthorizationDate = "2021-04-28" }, "", ""},
		{"AuthorizationDate leap day", func(r *PaymentSettlementRequest) { r.AuthorizationDate = "2024-02-29T00:00:00" }, "", ""},
		{"ExpirationDate 2030-10", func(r *PaymentSettlementRequest) { r.ExpirationDate = "2030-10" }, "", ""},
		{"ExpirationDate 2030-13", func(r *PaymentSettlementRequest) { r.ExpirationDate = "2030-13" }, reqRoot + "/ExpirationDate", `must be a year and month such as 2030-10 (got "2030-13")`},
		{"ExpirationDate 10/30", func(r *PaymentSettlementRequest) { r.ExpirationDate = "10/30" }, reqRoot + "/ExpirationDate", `must be a year and month such as 2030-10 (got "10/30")`},
		{"ExpirationDate next-line", func(r *PaymentSettlementRequest) { r.ExpirationDate = "\u00852030-10" }, reqRoot + "/ExpirationDate", `must be a year and month such as 2030-10 (got "\u00852030-10")`},
		{"FinalDebit yes", func(r *PaymentSettlementRequest) { r.FinalDebit = "yes" }, reqRoot + "/FinalDebit", `must be true or false (got "yes")`},
		{"FinalDebit false", func(r *PaymentSettlementRequest) { r.FinalDebit = "false" }, "", ""},
		{"OriginatingSystemOrderId of 41", func(r *PaymentSettlementRequest) { r.OriginatingSystemOrderID = chars(41) }, reqRoot + "/OriginatingSystemOrderId", "must be at most 40 characters (got 41)"},
		{"OmsOrderId of 31", func(r *PaymentSettlementRequest) { r.OmsOrderID = chars(31) }, reqRoot + "/OmsOrderId", "must be at most 30 characters (got 31)"},
		{"OmsOrderId absent", func(r *PaymentSettlementRequest) { r.OmsOrderID = "" }, "", ""},
		// BillingAddress
		{"no BillingAddress", func(r *PaymentSettlementRequest) { r.BillingAddress = nil }, "", ""},
		{"missing PersonName", func(r *PaymentSettlementRequest) { r.BillingAddress.PersonName = nil }, ba + "/PersonName", "is required"},
		{"missing Address", func(r *PaymentSettlementRequest) { r.BillingAddress.Address = nil }, ba + "/Address", "is required"},
		{"Honorific of 11", func(r *PaymentSettlementRequest) { r.BillingAddress.PersonName.Honorific = chars(11) }, ba + "/PersonName/Honorific", "must be at most 10 characters (got 11)"},
		{"missing LastName", func(r *PaymentSettlementRequest) { r.BillingAddress.PersonName.LastName = "" }, ba + "/PersonName/LastName", "is required"},
		{"LastName of 65", func(r *PaymentSettlementRequest) { r.BillingAddress.PersonName.LastName = chars(65) }, ba + "/PersonName/LastName", "must be at most 64 characters (got 65)"},
		{"MiddleName of 41", func(r *PaymentSettlementRequest) { r.BillingAddress.PersonName.MiddleName = chars(41) }, ba + "/PersonName/MiddleName", "must be at most 40 characters (got 41)"},
		{"FirstName of 65", func(r *PaymentSettlementRequest) { r.BillingAddress.PersonName.FirstName = chars(65) }, ba + "/PersonName/FirstName", "must be at most 64 characters (got 65)"},
		{"missing Line1", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.Line1 = "" }, ba + "/Address/Line1", "is required"},
		{"Line1 of 71", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.Line1 = chars(71) }, ba + "/Address/Line1", "must be at most 70 characters (got 71)"},
		{"Line2 of 71", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.Line2 = chars(71) }, ba + "/Address/Line2", "must be at most 70 characters (got 71)"},
		{"Line3 of 71", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.Line3 = chars(71) }, ba + "/Address/Line3", "must be at most 70 characters (got 71)"},
		{"Line4 has no limit", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.Line4 = chars(200) }, "", ""},
		{"missing City", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.City = "" }, ba + "/Address/City", "is required"},
		{"City of 41", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.City = chars(41) }, ba + "/Address/City", "must be at most 40 characters (got 41)"},
		{"City of 40 two-byte characters", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.City = strings.Repeat("é", 40) }, "", ""},
		{"MainDivision of 36", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.MainDivision = chars(36) }, ba + "/Address/MainDivision", "must be at most 35 characters (got 36)"},
		{"missing CountryCode", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.CountryCode = "" }, ba + "/Address/CountryCode", "is required"},
		{"CountryCode of 41", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.CountryCode = chars(41) }, ba + "/Address/CountryCode", "must be at most 40 characters (got 41)"},
		{"PostalCode of 16", func(r *PaymentSettlementRequest) { r.BillingAddress.Address.PostalCode = chars(16) }, ba + "/Address/PostalCode", "must be at most 15 characters (got 16)"},
		// InvoiceData
		{"InvoiceData type bogus", func(r *PaymentSettlementRequest) { r.InvoiceData.Type = "bogus" }, reqRoot + "/InvoiceData/@type", `must be one of sales, cancel, return, credit_memo, credit_adjust (got "bogus")`},
		{"InvoiceData type credit_memo", func(r *PaymentSettlementRequest) { r.InvoiceData.Type = "credit_memo" }, "", ""},
		{"VATInvoiceNumber with a space", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATInvoiceNumber = "INV 0001" }, vd + "/VATInvoiceNumber", "must not contain white space"},
		{"VATInvoiceNumber of 21", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATInvoiceNumber = chars(21) }, vd + "/VATInvoiceNumber", "must be at most 20 characters (got 21)"},
		{"missing VATInvoiceNumber", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATInvoiceNumber = "" }, vd + "/VATInvoiceNumber", "is required"},
		{"missing VATInvoiceDate", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATInvoiceDate = "" }, vd + "/VATInvoiceDate", "is required"},
		{"VATInvoiceDate bad", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATInvoiceDate = "10.05.2021" }, vd + "/VATInvoiceDate", `must be a date-time such as 2021-05-10T21:59:13Z (got "10.05.2021")`},
		{"no OriginalVATInvoice", func(r *PaymentSettlementRequest) {
			r.InvoiceData.VATData.OriginalVATInvoiceDetails.OriginalVATInvoice = nil
		}, vd + "/OriginalVATInvoiceDetails/OriginalVATInvoice", "is required (at least one)"},
		{"OriginalVATInvoiceNumber with a tab", func(r *PaymentSettlementRequest) {
			r.InvoiceData.VATData.OriginalVATInvoiceDetails.OriginalVATInvoice[0].OriginalVATInvoiceNumber = "INV\t1"
		}, vd + "/OriginalVATInvoiceDetails/OriginalVATInvoice[1]/OriginalVATInvoiceNumber", "must not contain white space"},
		{"missing OriginalVATInvoiceDate", func(r *PaymentSettlementRequest) {
			r.InvoiceData.VATData.OriginalVATInvoiceDetails.OriginalVATInvoice[0].OriginalVATInvoiceDate = ""
		}, vd + "/OriginalVATInvoiceDetails/OriginalVATInvoice[1]/OriginalVATInvoiceDate", "is required"},
		{"missing VATRateInfo", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo = nil }, vd + "/VATRateInfo", "is required"},
		{"no VAT", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo.VAT = nil }, vd + "/VATRateInfo/VAT", "is required (at least one)"},
		{"missing VAT rate", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo.VAT[0].Rate = "" }, vd + "/VATRateInfo/VAT[1]/@rate", "is required"},
		{"VAT rate high", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo.VAT[0].Rate = "high" }, vd + "/VATRateInfo/VAT[1]/@rate", `must be a decimal number (got "high")`},
		{"missing VAT Amount", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo.VAT[0].Amount = nil }, vd + "/VATRateInfo/VAT[1]/Amount", "is required"},
		{"VAT Amount 0", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo.VAT[0].Amount.Value = "0" }, vd + "/VATRateInfo/VAT[1]/Amount", `must be a positive amount (got "0")`},
		{"VAT Amount without currency", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.VATRateInfo.VAT[0].Amount.CurrencyCode = "" }, vd + "/VATRateInfo/VAT[1]/Amount/@currencyCode", "is required"},
		{"BalanceClearedAmount -5", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.BalanceClearedAmount.Value = "-5" }, vd + "/BalanceClearedAmount", `must be a positive amount (got "-5")`},
		{"BalanceClearedAmount without currency", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.BalanceClearedAmount.CurrencyCode = "" }, vd + "/BalanceClearedAmount/@currencyCode", "is required"},
		{"InvoicePresentment fax", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.InvoicePresentment = "fax" }, vd + "/InvoicePresentment", `must be one of letter, email, web (got "fax")`},
		{"missing InvoicePresentment", func(r *PaymentSettlementRequest) { r.InvoiceData.VATData.InvoicePresentment = "" }, vd + "/InvoicePresentment", "is required"},
		// LineItems
		{"no LineItem", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem = nil }, reqRoot + "/InvoiceData/LineItems/LineItem", "is required (at least one)"},
		{"lidCode abc", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].LidCode = "abc" }, li + "/@lidCode", "must be 4 to 7 characters (got 3)"},
		{"lidCode of 8", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].LidCode = "abcdefgh" }, li + "/@lidCode", "must be 4 to 7 characters (got 8)"},
		{"lidCode of 7", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].LidCode = "abcdefg" }, "", ""},
		{"missing ItemId", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].ItemID = "" }, li + "/ItemId", "is required"},
		{"ItemId of 21", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].ItemID = chars(21) }, li + "/ItemId", "must be at most 20 characters (got 21)"},
		{"missing Quantity", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].Quantity = "" }, li + "/Quantity", "is required"},
		{"Quantity two", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].Quantity = "two" }, li + "/Quantity", `must be a decimal number (got "two")`},
		{"missing ItemShortDescription", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].ItemShortDescription = "" }, li + "/ItemShortDescription", "is required"},
		{"ItemShortDescription of 101", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].ItemShortDescription = chars(101)
		}, li + "/ItemShortDescription", "must be at most 100 characters (got 101)"},
		{"VATInclusiveUnitPrice 1.001", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].VATInclusiveUnitPrice.Value = "1.001"
		}, li + "/VATInclusiveUnitPrice", `must have at most 2 decimal places (got "1.001")`},
		{"line VAT Amount currency is conditional", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].VATRateInfo.VAT[0].Amount.CurrencyCode = ""
		}, "", ""},
		{"line VAT Amount currency eur", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].VATRateInfo.VAT[0].Amount.CurrencyCode = "eur"
		}, li + "/VATRateInfo/VAT[1]/Amount/@currencyCode", `must be an upper-case ISO 4217 currency code (got "eur")`},
		{"line VAT rate bad", func(r *PaymentSettlementRequest) { r.InvoiceData.LineItems.LineItem[0].VATRateInfo.VAT[0].Rate = "19%" }, li + "/VATRateInfo/VAT[1]/@rate", `must be a decimal number (got "19%")`},
		{"no line CustomAttribute", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].CustomAttributes.CustomAttribute = nil
		}, li + "/CustomAttributes/CustomAttribute", "is required (at least one)"},
		{"missing line CustomAttribute Key", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].CustomAttributes.CustomAttribute[0].Key = ""
		}, li + "/CustomAttributes/CustomAttribute[1]/Key", "is required"},
		{"line CustomAttribute Value with a line break", func(r *PaymentSettlementRequest) {
			r.InvoiceData.LineItems.LineItem[0].CustomAttributes.CustomAttribute[0].Value = "a\nb"
		}, li + "/CustomAttributes/CustomAttribute[1]/Value", "must not contain tabs or line breaks (normalizedString)"},
		{"missing CustomAttribute Value", func(r *PaymentSettlementRequest) { r.InvoiceData.CustomAttributes.CustomAttribute[0].Value = "" }, reqRoot + "/InvoiceData/CustomAttributes/CustomAttribute[1]/Value", "is required"},
		// ShipmentData
		{"CurrentCount one", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShipmentCount.CurrentCount = "one" }, sd + "/ShipmentCount/CurrentCount", `must be an integer (got "one")`},
		{"TotalCount 1.5", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShipmentCount.TotalCount = "1.5" }, sd + "/ShipmentCount/TotalCount", `must be an integer (got "1.5")`},
		// XML Schema collapses only space, tab, CR and LF around a value: a
		// no-break space or another Unicode space makes it invalid.
		{"CurrentCount no-break space", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShipmentCount.CurrentCount = "\u00a01" }, sd + "/ShipmentCount/CurrentCount", `must be an integer (got "\u00a01")`},
		{"ShippedDate ideographic space", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShippedDate = "2021-05-10T21:59:13Z\u3000" }, sd + "/ShippedDate", `must be a date-time such as 2021-05-10T21:59:13Z (got "2021-05-10T21:59:13Z\u3000")`},
		{"missing TotalCount", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShipmentCount.TotalCount = "" }, sd + "/ShipmentCount/TotalCount", "is required"},
		{"missing ShippedDate", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShippedDate = "" }, sd + "/ShippedDate", "is required"},
		{"ShippedDate without T", func(r *PaymentSettlementRequest) { r.ShipmentData[0].ShippedDate = "2021-05-10 21:59:13" }, sd + "/ShippedDate", `must be a date-time such as 2021-05-10T21:59:13Z (got "2021-05-10 21:59:13")`},
		{"missing Carrier Name", func(r *PaymentSettlementRequest) { r.ShipmentData[0].Carrier.Name = "" }, sd + "/Carrier/Name", "is required"},
		{"DeliveryOption NEXTDAY", func(r *PaymentSettlementRequest) { r.ShipmentData[0].DeliveryOption = "NEXTDAY" }, sd + "/DeliveryOption", `must be one of STANDARD, EXPRESS (got "NEXTDAY")`},
		{"second ShipmentData", func(r *PaymentSettlementRequest) {
			r.ShipmentData = append(r.ShipmentData, ShipmentData{ShippedDate: "2021-05-11T10:00:00Z"})
		}, "", ""},
		{"second ShipmentData without date", func(r *PaymentSettlementRequest) { r.ShipmentData = append(r.ShipmentData, ShipmentData{}) }, reqRoot + "/ShipmentData[2]/ShippedDate", "is required"},
		// SourceOrderSystem
		{"SourceOrderSystem SAP", func(r *PaymentSettlementRequest) { r.SourceOrderSystem = "SAP" }, reqRoot + "/SourceOrderSystem", `must be one of JDA, STERLING, PAM, MAGENTO, CRMS, EXTERNAL, OOMF, ROMS (got "SAP")`},
		{"SourceOrderSystem MAGENTO", func(r *PaymentSettlementRequest) { r.SourceOrderSystem = "MAGENTO" }, "", ""},
		{"long enumeration value is cut", func(r *PaymentSettlementRequest) { r.SourceOrderSystem = chars(50) }, reqRoot + "/SourceOrderSystem", `must be one of JDA, STERLING, PAM, MAGENTO, CRMS, EXTERNAL, OOMF, ROMS (got "` + chars(40) + `…")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest()
			tt.mutate(r)
			err := r.Validate()
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
			want := ValidationErrors{{Path: tt.path, Rule: tt.rule}}
			if !reflect.DeepEqual(errs, want) {
				t.Errorf("Validate() =\n  %q\nwant\n  %q", errs, want)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	r := validRequest()
	r.RequestID = ""
	r.Amount.Value = "abc"
	r.BillingAddress.Address.City = ""
	err := r.Validate()
	var errs ValidationErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Validate() = %v, want ValidationErrors", err)
	}
	want := ValidationErrors{
		{Path: reqRoot + "/@requestId", Rule: "is required"},
		{Path: reqRoot + "/Amount", Rule: `must be a decimal number (got "abc")`},
		{Path: reqRoot + "/BillingAddress/Address/City", Rule: "is required"},
	}
	if !reflect.DeepEqual(errs, want) {
		t.Fatalf("Validate() = %q, want %q", errs, want)
	}
	wantText := `PaymentSettlementRequest/@requestId: is required; ` +
		`PaymentSettlementRequest/Amount: must be a decimal number (got "abc"); ` +
		`PaymentSettlementRequest/BillingAddress/Address/City: is required`
	if err.Error() != wantText {
		t.Errorf("Error() =\n  %s\nwant\n  %s", err, wantText)
	}
}

func TestValidateEmptyRequest(t *testing.T) {
	err := (&PaymentSettlementRequest{}).Validate()
	var errs ValidationErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Validate() = %v", err)
	}
	var paths []string
	for _, e := range errs {
		paths = append(paths, e.Path)
	}
	want := []string{reqRoot + "/@requestId", reqRoot, reqRoot + "/InvoiceId", reqRoot + "/Amount/@currencyCode", reqRoot + "/Amount", reqRoot + "/TaxAmount", reqRoot + "/SettlementType"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
	var nilReq *PaymentSettlementRequest
	if err := nilReq.Validate(); err == nil {
		t.Error("nil request validated")
	}
}

func TestValidationErrorsNeverQuoteTheAccount(t *testing.T) {
	r := validRequest()
	r.PaymentContext.PaymentAccountUniqueID.Value = "4111111111111111111111111" // 25 characters
	r.PaymentContext.PaymentAccountUniqueID.IsToken = "maybe"
	err := r.Validate()
	if err == nil || strings.Contains(err.Error(), "4111111111111111") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestValidateRequestList(t *testing.T) {
	good, bad := validRequest(), validRequest()
	bad.InvoiceID = ""
	l := &PaymentSettlementRequestList{Requests: []PaymentSettlementRequest{*good, *bad}}
	var errs ValidationErrors
	if !errors.As(l.Validate(), &errs) || len(errs) != 1 || errs[0].Path != "PaymentSettlementRequestList/PaymentSettlementRequest[2]/InvoiceId" {
		t.Errorf("Validate() = %v", errs)
	}
	if err := (&PaymentSettlementRequestList{Requests: []PaymentSettlementRequest{*good}}).Validate(); err != nil {
		t.Errorf("valid list: %v", err)
	}
}

// TestAmountCheck: Amount.Check is the rule of a request's Amount, for an
// amount sent as one though no request carries it.
func TestAmountCheck(t *testing.T) {
	tests := []struct {
		currency, value, want string // want "" = valid
	}{
		{"USD", "120.00", ""},
		{"KWD", "10.000", ""},
		{"JPY", "1200", ""},
		{"USD", " +120.5 ", ""},
		{"KWD", "10.005", "at most 2 decimal places"},
		{"JPY", "10.5", "at most 0 decimal places for JPY"},
		{"USD", "12345678901234567.89", "at most 18 digits"},
		{"USD", "1.2e2", "decimal number"},
		{"USD", "0.00", "positive"},
		{"usd", "1.00", "upper-case"},
		{"ZMW", "1.00", "Radial's schema enumerates"},
	}
	for _, tt := range tests {
		err := Amount{CurrencyCode: tt.currency, Value: tt.value}.Check("auth")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %q: %v", tt.currency, tt.value, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "auth")):
			t.Errorf("%s %q: error %v, want one under auth containing %q", tt.currency, tt.value, err, tt.want)
		}
	}
}

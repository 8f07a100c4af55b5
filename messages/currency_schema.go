package messages

import "github.com/settlement-worker/settlement-worker/money"

// schemaCurrencyCodes are the codes of ISOCurrencyCodeType, the enumeration
// that types Amount/@currencyCode in Radial's checkout/1.0 schema
// (Payment-Datatypes-CurrencyCode-1.0.xsd): an ISO 4217 list of its time. It
// still has codes ISO has withdrawn since (BYR, EEK, GWP, HRK, LTL, LVL, MRO,
// SKK, STD, TMM, VEF, XDR, ZMK, ZWR) and lacks codes added since (BYN, MRU,
// SLE, SSP, STN, TMT, VES, XCG, ZMW, ...). Order systems that validate
// against Radial's schema refuse a document with any other code.
var schemaCurrencyCodes = setOf(
	"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
	"BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYR",
	"BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF",
	"DKK", "DOP", "DZD", "EEK", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
	"GHS", "GIP", "GMD", "GNF", "GTQ", "GWP", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF",
	"IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR",
	"KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LTL",
	"LVL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRO", "MUR", "MVR",
	"MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB",
	"PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR",
	"SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SKK", "SLL", "SOS", "SRD", "STD", "SVC",
	"SYP", "SZL", "THB", "TJS", "TMM", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
	"UGX", "USD", "UYU", "UZS", "VEF", "VND", "VUV", "WST", "XAF", "XCD", "XDR", "XOF",
	"XPF", "YER", "ZAR", "ZMK", "ZWR",
)

// setOf builds a set of strings.
func setOf(values ...string) map[string]bool {
	s := make(map[string]bool, len(values))
	for _, v := range values {
		s[v] = true
	}
	return s
}

// SchemaCurrency reports whether code may be the currencyCode of an Amount in
// a message the worker sends or publishes: an active ISO 4217 code
// (money.ValidCurrency, upper case) that Radial's schema also enumerates.
// A settlement in any other currency cannot be reported in a valid
// PaymentSettlementStatus, so the worker does not settle it (see doc.go).
func SchemaCurrency(code string) bool {
	return schemaCurrencyCodes[code] && money.ValidCurrency(code)
}

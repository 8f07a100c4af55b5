package money

// iso4217 maps active ISO 4217 codes to their minor unit digits.
// TODO(messages helper): complete the table from the ISO 4217 list.
var iso4217 = map[string]int{
	"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "JPY": 0, "KWD": 3, "DKK": 2, "SEK": 2, "NOK": 2, "CHF": 2, "AUD": 2,
}

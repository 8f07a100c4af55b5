package messages

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// documentVerdict is what the worker's check used to be: encode, then parse
// and validate the document.
func documentVerdict(t testing.TB, s *PaymentSettlementStatus) ([]byte, string) {
	t.Helper()
	body, err := Encode(s)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return body, errString(ValidateStatusDocument(body))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sameVerdict fails unless EncodeStatus and CheckStatus give s exactly the
// verdict (nil, or the same problems in the same words) that
// ValidateStatusDocument gives its encoded document, and EncodeStatus's
// body is that document.
func sameVerdict(t testing.TB, s *PaymentSettlementStatus) {
	t.Helper()
	doc, want := documentVerdict(t, s)
	body, err := EncodeStatus(s)
	if got := errString(err); got != want {
		t.Fatalf("EncodeStatus verdict differs from the document's for %#v:\n got  %q\n want %q\n document %s", *s, got, want, doc)
	}
	if err == nil && !bytes.Equal(body, doc) {
		t.Fatalf("EncodeStatus body differs from Encode's:\n got  %s\n want %s", body, doc)
	}
	if got := errString(CheckStatus(s)); got != want {
		t.Fatalf("CheckStatus verdict differs from the document's for %#v:\n got  %q\n want %q", *s, got, want)
	}
}

func TestStatusCheckMatchesDocument(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *PaymentSettlementStatus)
		// roundTrips is RoundTrips's expected answer.
		roundTrips bool
	}{
		{"valid", func(s *PaymentSettlementStatus) {}, true},
		{"valid refusal with a reason", func(s *PaymentSettlementStatus) {
			s.SettlementStatus, s.DeclineReason = StatusRejected, "insufficient <funds> & \"more\""
		}, true},
		{"context base", func(s *PaymentSettlementStatus) {
			s.PaymentContext, s.PaymentContextBase = nil, &PaymentContextBase{OrderID: "ORD-1"}
		}, true},
		{"both contexts", func(s *PaymentSettlementStatus) { s.PaymentContextBase = &PaymentContextBase{OrderID: "O"} }, true},
		{"neither context", func(s *PaymentSettlementStatus) { s.PaymentContext = nil }, true},
		{"order id 21 characters", func(s *PaymentSettlementStatus) { s.PaymentContext.OrderID = strings.Repeat("9", 21) }, true},
		{"account 23 characters, isToken empty", func(s *PaymentSettlementStatus) {
			s.PaymentContext.PaymentAccountUniqueID = AccountID{Value: strings.Repeat("4", 23)}
		}, true},
		{"isToken TRUE", func(s *PaymentSettlementStatus) { s.PaymentContext.PaymentAccountUniqueID.IsToken = "TRUE" }, true},
		{"tender 5 characters", func(s *PaymentSettlementStatus) { s.TenderType = "VISAX" }, true},
		{"tender blank", func(s *PaymentSettlementStatus) { s.TenderType = "  " }, true},
		{"amount three decimals in KWD", func(s *PaymentSettlementStatus) { s.Amount = Amount{CurrencyCode: "KWD", Value: "1.234"} }, true},
		{"amount zero, currency unknown", func(s *PaymentSettlementStatus) { s.Amount = Amount{CurrencyCode: "XXY", Value: "0"} }, true},
		{"amount with spaces", func(s *PaymentSettlementStatus) { s.Amount.Value = " 10.00\n" }, true},
		{"settlement type lower case", func(s *PaymentSettlementStatus) { s.SettlementType = "debit" }, true},
		{"status empty, store 101 characters", func(s *PaymentSettlementStatus) {
			s.SettlementStatus, s.StoreID = "", strings.Repeat("s", 101)
		}, true},
		{"tab, carriage return and line feed survive", func(s *PaymentSettlementStatus) {
			s.ClientContext, s.StoreID = "a\tb\r\nc\rd", "ST\r"
		}, true},
		{"non-ASCII", func(s *PaymentSettlementStatus) { s.StoreID, s.PaymentContext.OrderID = "店舗-1", "注文😀" }, true},
		{"U+FFFD as such", func(s *PaymentSettlementStatus) { s.TenderType = "V\uFFFD" }, true},
		{"NUL in the order id", func(s *PaymentSettlementStatus) { s.PaymentContext.OrderID = "ORD\x00" }, false},
		{"control character in the store", func(s *PaymentSettlementStatus) { s.StoreID = "\x01" }, false},
		{"invalid UTF-8 in the tender", func(s *PaymentSettlementStatus) { s.TenderType = "V\xff" }, false},
		{"U+FFFE in the reason", func(s *PaymentSettlementStatus) { s.DeclineReason = "x\uFFFE" }, false},
		{"invalid UTF-8 making an order id of 21 bytes valid", func(s *PaymentSettlementStatus) {
			s.PaymentContext.OrderID = strings.Repeat("1", 19) + "\xff\xfe"
		}, false},
		{"invalid currency byte", func(s *PaymentSettlementStatus) { s.Amount.CurrencyCode = "US\x80" }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validStatus()
			c.mutate(s)
			if got := s.RoundTrips(); got != c.roundTrips {
				t.Errorf("RoundTrips = %v, want %v", got, c.roundTrips)
			}
			sameVerdict(t, s)
		})
	}
}

// statusPool is what generated statuses are made of: valid values, values
// at and past every limit, and characters that do not survive XML.
var statusPool = []string{
	"", " ", "\t", "\n", "\r", "\r\n", "A", "VC", "VISA", "VISAX", " VC ", "S", "R", "s", "Debit", "Credit", "debit",
	"true", "false", "TRUE", "USD", "JPY", "KWD", "XXX", "usd", "10.00", "0", "0.00", "-1", "1.234", "1e3", " 10.00 ",
	"9999999999.99", "10.", ".5", "+1.00", strings.Repeat("9", 20), strings.Repeat("9", 21), strings.Repeat("4", 22),
	strings.Repeat("4", 23), strings.Repeat("s", 100), strings.Repeat("s", 101), "<&>\"'", "]]>", "日本", "😀",
	"\uFFFD", "\uFFFE", "\x00", "\x01", "\x7f", "\xff", "\xc3", "a\x00b", "é\u0085", "\uD7FF", "\U0010FFFF",
}

// genStatus builds a status whose every field is, by chance, its valid
// value or one from statusPool.
func genStatus(rng *rand.Rand) *PaymentSettlementStatus {
	str := func(valid string) string {
		if rng.IntN(4) == 0 {
			return statusPool[rng.IntN(len(statusPool))]
		}
		return valid
	}
	s := &PaymentSettlementStatus{
		TenderType: str("VC"), Amount: Amount{CurrencyCode: str("USD"), Value: str("10.00")},
		SettlementType: str("Debit"), SettlementStatus: str("S"), DeclineReason: str(""), ClientContext: str(""),
		StoreID: str("STORE-1"),
	}
	pc := func() *PaymentContext {
		return &PaymentContext{OrderID: str("ORD-1"), PaymentAccountUniqueID: AccountID{IsToken: str("true"), Value: str("4111tok")}}
	}
	switch rng.IntN(8) {
	case 0:
	case 1:
		s.PaymentContextBase = &PaymentContextBase{OrderID: str("ORD-1")}
	case 2:
		s.PaymentContext, s.PaymentContextBase = pc(), &PaymentContextBase{OrderID: str("ORD-1")}
	default:
		s.PaymentContext = pc()
	}
	return s
}

// Generated statuses, valid or broken in one or several places: the check
// without the document and the document's check agree on every one.
func TestStatusCheckMatchesDocumentGenerated(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(9, 2026))
	var valid, unsafe int
	for i := 0; i < n; i++ {
		s := genStatus(rng)
		if !s.RoundTrips() {
			unsafe++
		} else if CheckStatus(s) == nil {
			valid++
		}
		sameVerdict(t, s)
	}
	t.Logf("%d statuses: %d valid, %d with a string that does not survive XML", n, valid, unsafe)
	if valid == 0 || unsafe == 0 || valid+unsafe == n {
		t.Errorf("the generator should make valid, invalid and unsafe statuses: %d valid, %d unsafe of %d", valid, unsafe, n)
	}
}

// go test -fuzz FuzzStatusCheckMatchesDocument ./messages explores further;
// plain go test runs the seeds.
func FuzzStatusCheckMatchesDocument(f *testing.F) {
	f.Add("VC", "USD", "10.00", "Debit", "S", "", "", "STORE", "ORD-1", "true", "4111", uint8(1))
	f.Add("V\xff", "KWD", "1.234", "Credit", "R", "reason\r\n", "ctx\t", "S", "O\x00", "false", "", uint8(3))
	f.Add("", "", "", "", "", "", "", "", "", "", "", uint8(0))
	f.Fuzz(func(t *testing.T, tender, cur, amt, typ, status, reason, cc, storeID, order, isToken, acct string, ctx uint8) {
		s := &PaymentSettlementStatus{
			TenderType: tender, Amount: Amount{CurrencyCode: cur, Value: amt}, SettlementType: typ,
			SettlementStatus: status, DeclineReason: reason, ClientContext: cc, StoreID: storeID,
		}
		if ctx&1 != 0 {
			s.PaymentContext = &PaymentContext{OrderID: order, PaymentAccountUniqueID: AccountID{IsToken: isToken, Value: acct}}
		}
		if ctx&2 != 0 {
			s.PaymentContextBase = &PaymentContextBase{OrderID: order}
		}
		sameVerdict(t, s)
	})
}

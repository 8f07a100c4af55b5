package messages

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeParseErrors(t *testing.T) {
	const ns = `xmlns="http://api.gsicommerce.com/schema/checkout/1.0"`
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "body is empty"},
		{"blank", " \n\t", "body is empty"},
		{"not XML", "hello", "body has text outside the root element"},
		{"JSON", `{"requestId":"1"}`, "body has text outside the root element"},
		{"truncated", `<PaymentSettlementRequest ` + ns + `><InvoiceId>1</InvoiceId>`, "body is not well-formed XML: "},
		{"mismatched tags", `<PaymentSettlementRequest ` + ns + `><InvoiceId>1</Amount></PaymentSettlementRequest>`, "body is not well-formed XML: "},
		{"undefined entity", `<PaymentSettlementRequest ` + ns + `><InvoiceId>&foo;</InvoiceId></PaymentSettlementRequest>`, "body is not well-formed XML: "},
		{"XXE", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><PaymentSettlementRequest ` + ns + `><InvoiceId>&xxe;</InvoiceId></PaymentSettlementRequest>`,
			"body has a DOCTYPE or entity declaration, which is refused (XXE protection)"},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><PaymentSettlementRequest ` + ns + `/>`,
			"body has a DOCTYPE or entity declaration"},
		{"plain DOCTYPE", `<!DOCTYPE PaymentSettlementRequest><PaymentSettlementRequest ` + ns + `/>`, "body has a DOCTYPE or entity declaration"},
		{"wrong root", `<PaymentSettlementStatus ` + ns + `/>`,
			"root element is PaymentSettlementStatus, expected PaymentSettlementRequest in namespace http://api.gsicommerce.com/schema/checkout/1.0"},
		{"no namespace", `<PaymentSettlementRequest requestId="1"/>`,
			"root element is PaymentSettlementRequest (no namespace), expected PaymentSettlementRequest in namespace http://api.gsicommerce.com/schema/checkout/1.0"},
		{"other namespace", `<PaymentSettlementRequest xmlns="urn:other"/>`,
			"root element is PaymentSettlementRequest in namespace urn:other, expected PaymentSettlementRequest in namespace http://api.gsicommerce.com/schema/checkout/1.0"},
		{"two roots", `<PaymentSettlementRequest ` + ns + `/><PaymentSettlementRequest ` + ns + `/>`, "body has more than one root element"},
		{"text after root", `<PaymentSettlementRequest ` + ns + `/>trailing`, "body has text outside the root element"},
		// XML allows only #x20, #x9, #xD and #xA around the root (Misc's S);
		// other Unicode spaces there are text, which xmllint refuses.
		{"no-break space before root", "\u00a0<PaymentSettlementRequest " + ns + `/>`, "body has text outside the root element"},
		{"next line after root", `<PaymentSettlementRequest ` + ns + "/>\u0085", "body has text outside the root element"},
		{"line separator after root", `<PaymentSettlementRequest ` + ns + "/>\n\u2028", "body has text outside the root element"},
		{"ideographic space before root", "\u3000 <PaymentSettlementRequest " + ns + `/>`, "body has text outside the root element"},
		{"only a comment", `<!-- nothing -->`, "body has no root element"},
		{"other encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><PaymentSettlementRequest ` + ns + `/>`, "body is not well-formed XML: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeSettlementRequest([]byte(tt.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodeSettlementRequest = %+v, %v; want a *ParseError", r, err)
			}
			if r != nil {
				t.Errorf("a value came back with the error: %+v", r)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestParseErrorWrapsCause(t *testing.T) {
	_, err := DecodeSettlementStatus([]byte(`<PaymentSettlementStatus xmlns="` + Namespace + `"><x></y></PaymentSettlementStatus>`))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Err == nil || errors.Unwrap(err) != pe.Err {
		t.Errorf("ParseError does not wrap its cause: %#v", err)
	}
}

func TestDecodeDoesNotValidate(t *testing.T) {
	r, err := DecodeSettlementRequest([]byte(`<PaymentSettlementRequest xmlns="` + Namespace + `"><Amount currencyCode="usd">abc</Amount></PaymentSettlementRequest>`))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if r.Amount.Value != "abc" || r.Validate() == nil {
		t.Errorf("decoded %+v", r)
	}
}

func TestDecodeRootsOfEveryMessage(t *testing.T) {
	open := func(root string) []byte { return []byte(`<` + root + ` xmlns="` + Namespace + `"></` + root + `>`) }
	decoders := map[string]func([]byte) error{
		"PaymentSettlementRequest":     func(b []byte) error { _, err := DecodeSettlementRequest(b); return err },
		"PaymentSettlementRequestList": func(b []byte) error { _, err := DecodeSettlementRequestList(b); return err },
		"PaymentSettlementStatus":      func(b []byte) error { _, err := DecodeSettlementStatus(b); return err },
		"PaymentSettlementStatusList":  func(b []byte) error { _, err := DecodeStatusList(b); return err },
		"ConfirmFundsRequest":          func(b []byte) error { _, err := DecodeConfirmFundsRequest(b); return err },
		"ConfirmFundsReply":            func(b []byte) error { _, err := DecodeConfirmFundsReply(b); return err },
		"AckReply":                     func(b []byte) error { _, err := DecodeAckReply(b); return err },
		"Fault":                        func(b []byte) error { _, err := DecodeFault(b); return err },
	}
	for root, decode := range decoders {
		if err := decode(open(root)); err != nil {
			t.Errorf("%s: %v", root, err)
		}
		other := "Fault"
		if root == other {
			other = "AckReply"
		}
		var pe *ParseError
		if err := decode(open(other)); !errors.As(err, &pe) || !strings.Contains(err.Error(), "expected "+root) {
			t.Errorf("%s decoder given %s: %v", root, other, err)
		}
	}
}

func TestDecodeToleratesUnknownElements(t *testing.T) {
	reply := `<?xml version="1.0" encoding="UTF-8"?>
<ConfirmFundsReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
  <PaymentContextBase><OrderId>12345</OrderId><FutureField>x</FutureField></PaymentContextBase>
  <FundsAvailable>Success</FundsAvailable>
  <ReauthorizationAttempted>true</ReauthorizationAttempted>
  <Extension><Vendor name="radial"><Anything>1</Anything></Vendor></Extension>
</ConfirmFundsReply>`
	r, err := DecodeConfirmFundsReply([]byte(reply))
	if err != nil {
		t.Fatalf("DecodeConfirmFundsReply: %v", err)
	}
	if r.FundsAvailable != FundsSuccess || r.ReauthorizationAttempted != "true" || r.PaymentContextBase.OrderID != "12345" {
		t.Errorf("decoded %+v", r)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	ack := `<AckReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><Received/><TraceId>abc</TraceId></AckReply>`
	a, err := DecodeAckReply([]byte(ack))
	if err != nil || a.Received == nil {
		t.Errorf("DecodeAckReply = %+v, %v", a, err)
	}

	status := bytes.Replace(readGolden(t, "status_debit_with_account.xml"), []byte("<StoreId>"), []byte("<ProcessorReference>p-1</ProcessorReference><StoreId>"), 1)
	s, err := DecodeSettlementStatus(status)
	if err != nil || s.StoreID != "ABCXYZ" || s.Validate() != nil {
		t.Errorf("DecodeSettlementStatus with an extension = %+v, %v", s, err)
	}
}

func TestDecodeFault(t *testing.T) {
	f, err := DecodeFault([]byte(`<Fault xmlns="` + Namespace + `"><Code>MalformedRequest</Code><Description>bad</Description></Fault>`))
	if err != nil || f.Code != "MalformedRequest" || f.Description != "bad" {
		t.Errorf("DecodeFault = %+v, %v", f, err)
	}
}

func TestEncodeNamespace(t *testing.T) {
	r, err := DecodeSettlementRequest(readGolden(t, "request_optional_payment_context.xml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0" requestId="123"><PaymentContext><OrderId>`
	if !bytes.HasPrefix(out, []byte(want)) {
		t.Errorf("Encode =\n%s\nwant prefix\n%s", out, want)
	}
	if bytes.Contains(out, []byte("xmlns:")) || bytes.Count(out, []byte("xmlns=")) != 1 {
		t.Errorf("Encode uses prefixes or repeats xmlns:\n%s", out)
	}
	// A request built in code (zero XMLName) encodes the same root.
	built := validRequest()
	out, err = Encode(built)
	if err != nil || !bytes.Contains(out, []byte(`<PaymentSettlementRequest xmlns="`+Namespace+`"`)) {
		t.Errorf("Encode(built) = %s, %v", out, err)
	}
	back, err := DecodeSettlementRequest(out)
	if err != nil || back.Validate() != nil || back.Fingerprint() != built.Fingerprint() {
		t.Errorf("decode(Encode(built)) = %+v, %v", back, err)
	}
}

func TestEncodeEscapes(t *testing.T) {
	r := validRequest()
	r.ClientContext = `a<b>&"c"`
	out, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSettlementRequest(out)
	if err != nil || back.ClientContext != r.ClientContext {
		t.Errorf("ClientContext round trip = %q, %v", back.ClientContext, err)
	}
}

func TestFingerprint(t *testing.T) {
	compact, err := DecodeSettlementRequest(readGolden(t, "request_required_payment_context.xml"))
	if err != nil {
		t.Fatal(err)
	}
	reindented := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!-- another system, another layout -->
<checkout:PaymentSettlementRequest xmlns:checkout="http://api.gsicommerce.com/schema/checkout/1.0" requestId="123">
<checkout:PaymentContext><checkout:OrderId>OrderId01013</checkout:OrderId>
<checkout:PaymentAccountUniqueId isToken="false">4400000000000008</checkout:PaymentAccountUniqueId></checkout:PaymentContext>
<checkout:InvoiceId>invoice-id</checkout:InvoiceId>
		<checkout:Amount currencyCode="USD">100.00</checkout:Amount>
		<checkout:TaxAmount currencyCode="USD">6.00</checkout:TaxAmount>
<checkout:SettlementType>Debit</checkout:SettlementType><checkout:ClientContext>987654321</checkout:ClientContext><checkout:FinalDebit>true</checkout:FinalDebit>
</checkout:PaymentSettlementRequest>`)
	same, err := DecodeSettlementRequest(reindented)
	if err != nil {
		t.Fatal(err)
	}
	fp := compact.Fingerprint()
	if len(fp) != 64 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("Fingerprint = %q, want 64 hex digits", fp)
	}
	if same.Fingerprint() != fp {
		t.Errorf("the same request with other whitespace has another fingerprint")
	}
	other := *compact
	other.Amount.Value = "100.01"
	if other.Fingerprint() == fp {
		t.Errorf("another amount has the same fingerprint")
	}
	other = *compact
	other.RequestID = "124"
	if other.Fingerprint() == fp {
		t.Errorf("another requestId has the same fingerprint")
	}
	var nilReq *PaymentSettlementRequest
	if nilReq.Fingerprint() != "" {
		t.Errorf("nil request has a fingerprint")
	}
}

func TestAmountMoney(t *testing.T) {
	tests := []struct {
		amount  Amount
		want    string
		minor   int64
		wantErr bool
	}{
		{Amount{"USD", "55.00"}, "55.00", 5500, false},
		{Amount{"USD", "55"}, "55.00", 5500, false},
		{Amount{"JPY", "100"}, "100", 100, false},
		{Amount{"KWD", "1.5"}, "1.500", 1500, false},
		{Amount{"JPY", "100.50"}, "", 0, true},
		{Amount{"USD", "12.345"}, "", 0, true},
		{Amount{"usd", "1.00"}, "", 0, true},
		{Amount{"XXX", "1.00"}, "", 0, true},
		{Amount{"USD", "abc"}, "", 0, true},
		{Amount{"USD", ""}, "", 0, true},
	}
	for _, tt := range tests {
		m, err := tt.amount.Money()
		if tt.wantErr {
			if err == nil || !strings.HasPrefix(err.Error(), "messages: amount: ") {
				t.Errorf("%+v.Money() = %v, %v; want an error", tt.amount, m, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v.Money(): %v", tt.amount, err)
			continue
		}
		minor, err := m.MinorUnits()
		if m.String() != tt.want || m.Currency != tt.amount.CurrencyCode || err != nil || minor != tt.minor {
			t.Errorf("%+v.Money() = %s %s (%d minor, %v)", tt.amount, m, m.Currency, minor, err)
		}
	}
}

func TestDecodeAcceptsByteOrderMark(t *testing.T) {
	body := append([]byte("\xEF\xBB\xBF"), readGolden(t, "ack_reply.xml")...)
	if a, err := DecodeAckReply(body); err != nil || a.Received == nil {
		t.Errorf("DecodeAckReply with a BOM = %+v, %v", a, err)
	}
}

func TestEncodeNil(t *testing.T) {
	var r *PaymentSettlementRequest
	if out, err := Encode(r); err == nil {
		t.Errorf("Encode(nil request) = %q, want an error", out)
	}
	if out, err := Encode(nil); err == nil {
		t.Errorf("Encode(nil) = %q, want an error", out)
	}
}

package messages

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// fastAgrees fails unless decodeFast, where it accepts body as T, gives
// what the two passes (checkXML, checkStrict, Unmarshal) and decodeOnce
// give: fast accepted ⇒ both accept it with a deep-equal value. It
// reports whether decodeFast accepted.
func fastAgrees[T any](t testing.TB, body []byte, root string) bool {
	t.Helper()
	got, ok := decodeFast[T](body)
	if !ok {
		if got != nil {
			t.Fatalf("decodeFast declined %s but returned %#v", body, got)
		}
		return false
	}
	want, err := decodeTwoPasses[T](body, root)
	if err != nil {
		t.Fatalf("decodeFast accepted a body the two passes refuse (%v):\n%s", err, body)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeFast decoded another value:\n got  %#v\n want %#v\n body %s", got, want, body)
	}
	once, ok := decodeOnce[T](body, root)
	if !ok || !reflect.DeepEqual(got, once) {
		t.Fatalf("decodeOnce (%v) disagrees with decodeFast:\n got  %#v\n once %#v\n body %s", ok, got, once, body)
	}
	return true
}

// fastAgreesAll runs fastAgrees for every type decodeFast reads and
// reports how many accepted body.
func fastAgreesAll(t testing.TB, body []byte) int {
	t.Helper()
	n := 0
	for _, ok := range []bool{
		fastAgrees[PaymentSettlementRequest](t, body, rootSettlementRequest),
		fastAgrees[PaymentSettlementStatus](t, body, rootSettlementStatus),
		fastAgrees[ConfirmFundsReply](t, body, rootConfirmFundsReply),
		fastAgrees[AckReply](t, body, rootAckReply),
		fastAgrees[PaymentSettlementStatusList](t, body, rootStatusList),
		fastAgrees[PaymentSettlementRequestList](t, body, rootSettlementRequestList),
	} {
		if ok {
			n++
		}
	}
	return n
}

var xmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)

// fastBodies is every golden document, as written (comments: declined),
// without its comments (the canonical shape: accepted) and re-encoded,
// with the variants bodyVariants makes of each, and the hot documents as
// the worker's peers write them.
func fastBodies(t testing.TB) (bodies []string, canonical []string) {
	t.Helper()
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden documents: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stripped := xmlComment.ReplaceAllString(string(raw), "")
		canonical = append(canonical, stripped)
		for _, b := range []string{string(raw), stripped} {
			bodies = append(bodies, bodyVariants(b)...)
		}
	}
	for _, v := range []any{
		&ConfirmFundsReply{PaymentContext: &PaymentContext{OrderID: "ORD-1", PaymentAccountUniqueID: AccountID{IsToken: "true", Value: "4111110PASeK1111"}}, FundsAvailable: FundsSuccess},
		&ConfirmFundsReply{PaymentContextBase: &PaymentContextBase{OrderID: "ORD-2"}, FundsAvailable: FundsFail, ReauthorizationAttempted: "true"},
		&AckReply{Received: &struct{}{}},
		&AckReply{},
		fastFullRequest(),
		&PaymentSettlementRequestList{Requests: []PaymentSettlementRequest{*fastFullRequest(), *fastFullRequest()}},
	} {
		body, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		canonical = append(canonical, string(body))
		bodies = append(bodies, bodyVariants(string(body))...)
	}
	return append(bodies, canonical...), canonical
}

// fastFullRequest has every element and attribute of the request, text with
// characters Encode escapes.
func fastFullRequest() *PaymentSettlementRequest {
	amt := func(v string) *Amount { return &Amount{CurrencyCode: "EUR", Value: v} }
	return &PaymentSettlementRequest{
		RequestID:                 "req-1 <&>\"'",
		PaymentContext:            &PaymentContext{OrderID: "O&1", PaymentAccountUniqueID: AccountID{IsToken: "false", Value: "4400000000000008"}},
		PaymentContextBase:        &PaymentContextBase{OrderID: "B-1"},
		InvoiceID:                 "INV\t1\n",
		Amount:                    *amt("10.00"),
		TaxAmount:                 amt("1.00"),
		SettlementType:            SettlementCredit,
		AuthorizationResponseCode: "ARC",
		AuthorizationDate:         "2021-04-28T11:56:00.998Z",
		ExpirationDate:            "2030-10-05:00",
		ClientContext:             "ctx é ü 日本",
		FinalDebit:                "true",
		OriginatingSystemOrderID:  "OSO",
		OmsOrderID:                "OMS",
		BillingAddress: &BillingAddress{
			PersonName: &PersonName{Honorific: "Dr", LastName: "Doe", MiddleName: "Q", FirstName: "John"},
			Address:    &Address{Line1: "1", Line2: "2", Line3: "3", Line4: "4", City: "Miami", MainDivision: "FL", CountryCode: "US", PostalCode: "74354"},
		},
		InvoiceData: &InvoiceData{
			Type: "open",
			VATData: &VATData{
				VATInvoiceNumber: "V1", VATInvoiceDate: "2021-01-01",
				OriginalVATInvoiceDetails: &OriginalVATInvoiceDetails{OriginalVATInvoice: []OriginalVATInvoice{{"N1", "D1"}, {"N2", "D2"}}},
				VATRateInfo:               &VATRateInfo{VAT: []VAT{{Rate: "19", VATRegistrationID: "R", Amount: amt("1.90")}, {Rate: "7"}}},
				BalanceClearedAmount:      amt("0.00"),
				InvoicePresentment:        "Paper",
			},
			LineItems: &LineItems{LineItem: []LineItem{
				{LidCode: "L", LineID: "1", ItemID: "I1", ClientItemID: "C1", Quantity: "2", ItemShortDescription: "a & b",
					VATInclusiveUnitPrice: amt("5.00"), VATRateInfo: &VATRateInfo{VAT: []VAT{{Rate: "19"}}},
					CustomAttributes: &CustomAttributes{CustomAttribute: []CustomAttribute{{"k", "v"}}}},
				{ItemID: "I2", Quantity: "1", ItemShortDescription: "NA"},
			}},
			CustomAttributes: &CustomAttributes{CustomAttribute: []CustomAttribute{{"DomOrchestrated", "false"}, {"x", "y"}}},
		},
		ShipmentData: []ShipmentData{
			{ShipmentCount: &ShipmentCount{"1", "2"}, ShippedDate: "2021-05-10T21:59:13Z", Carrier: &Carrier{"FEDEX", "Ground"}, TrackingID: "T1", DeliveryOption: "D"},
			{ShippedDate: "2021-05-11T21:59:13Z"},
		},
		RefundReason:           "R",
		ReferenceTransactionID: "RT",
		SourceOrderSystem:      "OOMF",
	}
}

// TestDecodeFastMatchesTwoPasses: over every golden document and the
// variants of each, decodeFast accepts only what the two passes accept,
// and then decodes the same value; it accepts the canonical shape of
// every one (the golden documents without their comments, Encode's
// output), which is what the worker's peers send.
func TestDecodeFastMatchesTwoPasses(t *testing.T) {
	bodies, canonical := fastBodies(t)
	accepted := 0
	for _, b := range bodies {
		accepted += fastAgreesAll(t, []byte(b))
	}
	for _, b := range canonical {
		if fastAgreesAll(t, []byte(b)) != 1 {
			t.Errorf("decodeFast declined a canonical document (or read it as two types):\n%s", b)
		}
	}
	if accepted == 0 {
		t.Error("decodeFast accepted nothing")
	}
}

// TestDecodeFastEdges: the seams of the fast reading (entities and
// character references, white space in tags, the XML declarations,
// attributes, empty elements, repeated and unknown elements, bytes the
// XML decoder refuses) agree with the two passes, accepted or declined.
func TestDecodeFastEdges(t *testing.T) {
	const ns = Namespace
	st := func(inner string) string {
		return `<PaymentSettlementStatus xmlns="` + ns + `">` + inner + `</PaymentSettlementStatus>`
	}
	const ctx = `<PaymentContext><OrderId>1</OrderId><PaymentAccountUniqueId isToken="true">tok</PaymentAccountUniqueId></PaymentContext>`
	tests := []struct {
		name   string
		body   string
		accept bool
	}{
		{"minimal", st(ctx), true},
		{"empty root", `<PaymentSettlementStatus xmlns="` + ns + `"/>`, true},
		{"single-quoted xmlns", `<PaymentSettlementStatus xmlns='` + ns + `'></PaymentSettlementStatus>`, true},
		{"spaces in tags", `<PaymentSettlementStatus  xmlns = "` + ns + `" ><TenderType >VC</TenderType ><Amount currencyCode = 'USD' >1.00</Amount></PaymentSettlementStatus >`, true},
		{"entities", st(`<DeclineReason>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x0063;&#1234;&#x1F600;</DeclineReason>`), true},
		{"entity in attribute", st(`<Amount currencyCode="U&#83;D">1</Amount>`), true},
		{"empty text element", st(`<TenderType></TenderType><StoreId/>`), true},
		{"utf-8 text", st(`<DeclineReason>é日本😀&#xE000;</DeclineReason>`), true},
		{"xml declaration", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + st(ctx), true},
		{"xml declaration standalone", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + st(ctx), true},
		{"xml declaration single quotes", `<?xml version='1.0' encoding='utf-8'?>` + st(ctx), true},
		{"xml declaration no encoding", `<?xml version="1.0"?>` + st(ctx), true},
		{"CRLF between elements", "<?xml version=\"1.0\"?>\r\n" + st("\r\n"+ctx+"\r\n"), true},
		{"CR in text", st("<DeclineReason>a\r\nb</DeclineReason>"), false},
		{"xml declaration 1.1", `<?xml version="1.1"?>` + st(ctx), false},
		{"xml declaration latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + st(ctx), false},
		{"other PI", `<?pi x?>` + st(ctx), false},
		{"PI in text", st(`<TenderType>V<?pi?>C</TenderType>`), false},
		{"unknown element", st(`<Ext>1</Ext>`), false},
		{"unknown attribute", st(`<TenderType a="1">VC</TenderType>`), false},
		{"prefixed element", `<p:PaymentSettlementStatus xmlns:p="` + ns + `"></p:PaymentSettlementStatus>`, false},
		{"other namespace", `<PaymentSettlementStatus xmlns="urn:x"></PaymentSettlementStatus>`, false},
		{"no namespace", `<PaymentSettlementStatus></PaymentSettlementStatus>`, false},
		{"child xmlns", st(`<TenderType xmlns="` + ns + `">VC</TenderType>`), false},
		{"repeated element", st(`<TenderType>VC</TenderType><TenderType>MC</TenderType>`), false},
		{"repeated attribute", st(`<Amount currencyCode="USD" currencyCode="JPY">1</Amount>`), false},
		{"element in text", st(`<Amount currencyCode="USD">1<x/>0</Amount>`), false},
		{"text in struct", st(`<PaymentContext>x<OrderId>1</OrderId></PaymentContext>`), false},
		{"unknown entity", st(`<TenderType>&nbsp;</TenderType>`), false},
		{"entity without semicolon", st(`<TenderType>&amp</TenderType>`), false},
		{"char ref to NUL", st(`<TenderType>&#0;</TenderType>`), false},
		{"char ref to FFFE", st(`<TenderType>&#xFFFE;</TenderType>`), false},
		{"char ref upper X", st(`<TenderType>&#X41;</TenderType>`), false},
		{"char ref too large", st(`<TenderType>&#x110000;</TenderType>`), false},
		{"control character", st("<TenderType>\x01</TenderType>"), false},
		{"invalid utf-8", st("<TenderType>\xff</TenderType>"), false},
		{"U+FFFE", st("<TenderType>\uFFFE</TenderType>"), false},
		{"]]> in text", st(`<TenderType>]]></TenderType>`), false},
		{"< in attribute", st(`<Amount currencyCode="<">1</Amount>`), false},
		{"unquoted attribute", st(`<Amount currencyCode=USD>1</Amount>`), false},
		{"mismatched end", st(`<TenderType>VC</TenderTyp>`), false},
		{"end with junk", st(`<TenderType>VC</TenderType x>`), false},
		{"unclosed", `<PaymentSettlementStatus xmlns="` + ns + `"><TenderType>VC</TenderType>`, false},
		{"text after root", st(ctx) + "x", false},
		{"second root", st(ctx) + st(ctx), false},
		{"BOM", "\xEF\xBB\xBF" + st(ctx), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fastAgrees[PaymentSettlementStatus](t, []byte(tt.body), rootSettlementStatus); got != tt.accept {
				t.Errorf("decodeFast accepted = %v, want %v:\n%s", got, tt.accept, tt.body)
			}
			fastAgreesAll(t, []byte(tt.body))
		})
	}
}

// go test ./messages/ -run '^$' -fuzz FuzzDecodeFastMatchesTwoPasses
// explores further: whatever decodeFast accepts, the two passes (and
// decodeOnce) accept with the same value; it never accepts a body they
// refuse. The fuzzed bytes are read as a document of every type, and put
// at the seams of a canonical document of every type (fuzzSeams); and
// decodeXML as a whole is held to the reference decoding (decodesAsReference).
func FuzzDecodeFastMatchesTwoPasses(f *testing.F) {
	bodies, _ := fastBodies(f)
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Add([]byte(`&lt;&#x41;&#66;]]&gt;é`))
	f.Add([]byte(`<OrderId>1</OrderId>`))
	f.Add([]byte(" \tUSD\n"))
	f.Add([]byte(`&#x20;USD`))
	f.Add([]byte(`requestId="a"`))
	f.Add([]byte(`Amount`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fastAgreesAll(t, body)
		decodesAsReferenceAll(t, body)
		// The same bytes at the seams of canonical documents: as text, as
		// an attribute value, as an attribute, as an element name, in an
		// end tag, between elements, before and after the root.
		for _, seam := range fuzzSeams {
			doc := bytes.ReplaceAll([]byte(seam.doc), []byte("@"), body)
			fastAgreesAll(t, doc)
			seam.reference(t, doc)
		}
	})
}

// decodesAsReference fails unless decodeXML (the fast path, decodeOnce
// or the two passes, whichever reads body) returns what the reference
// decoding returns: a surrogate reference's error, else the two passes'
// error or value with every currencyCode collapsed (collapseAmounts, on
// every decoded value: a padded code paddedCurrencyCode misses shows).
func decodesAsReference[T any](t testing.TB, body []byte, root string) {
	t.Helper()
	got, gotErr := decodeXML[T](body, root)
	trimmed := bytes.TrimPrefix(body, utf8BOM)
	want, wantErr := (*T)(nil), refuseSurrogateRefs(trimmed)
	if wantErr == nil {
		want, wantErr = decodeTwoPasses[T](trimmed, root)
		if wantErr == nil {
			collapseAmounts(reflect.ValueOf(want))
		}
	}
	if errString(gotErr) != errString(wantErr) {
		t.Fatalf("decodeXML error %q, reference %q:\n%q", errString(gotErr), errString(wantErr), body)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeXML decoded another value:\n got  %#v\n want %#v\n body %q", got, want, body)
	}
}

// decodesAsReferenceAll is decodesAsReference for every type decodeFast
// reads.
func decodesAsReferenceAll(t testing.TB, body []byte) {
	t.Helper()
	decodesAsReference[PaymentSettlementRequest](t, body, rootSettlementRequest)
	decodesAsReference[PaymentSettlementRequestList](t, body, rootSettlementRequestList)
	decodesAsReference[PaymentSettlementStatus](t, body, rootSettlementStatus)
	decodesAsReference[PaymentSettlementStatusList](t, body, rootStatusList)
	decodesAsReference[ConfirmFundsReply](t, body, rootConfirmFundsReply)
	decodesAsReference[AckReply](t, body, rootAckReply)
}

// fuzzSeams are canonical documents of every type decodeFast reads with
// "@" where the fuzzer's bytes go, and decodesAsReference for their type
// (the seam is decoded as every type by fastAgreesAll, which costs little
// for a type whose root it is not: decodeFast declines it at once).
var fuzzSeams = []struct {
	doc       string
	reference func(testing.TB, []byte)
}{
	{`<PaymentSettlementStatus xmlns="` + Namespace + `"><DeclineReason>@</DeclineReason></PaymentSettlementStatus>`, seamReference[PaymentSettlementStatus](rootSettlementStatus)},
	{`<PaymentSettlementStatus xmlns="` + Namespace + `"><Amount currencyCode="@">1.00</Amount></PaymentSettlementStatus>`, seamReference[PaymentSettlementStatus](rootSettlementStatus)},
	{`<PaymentSettlementStatus xmlns="` + Namespace + `"><PaymentContext>@</PaymentContext></PaymentSettlementStatus>`, seamReference[PaymentSettlementStatus](rootSettlementStatus)},
	{`<?xml version="1.0" encoding="UTF-8"?><PaymentSettlementStatus xmlns="` + Namespace + `" @><StoreId>S</StoreId></PaymentSettlementStatus>`, seamReference[PaymentSettlementStatus](rootSettlementStatus)},
	{`<PaymentSettlementRequest xmlns="` + Namespace + `" requestId="@"><Amount currencyCode='USD'>1.00</Amount></PaymentSettlementRequest>`, seamReference[PaymentSettlementRequest](rootSettlementRequest)},
	{`<PaymentSettlementRequest xmlns="` + Namespace + `" requestId="r"><Amount currencyCode="USD">@</Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`, seamReference[PaymentSettlementRequest](rootSettlementRequest)},
	{`<PaymentSettlementRequest xmlns="` + Namespace + `" requestId="r"><PaymentContext><OrderId>1</OrderId><PaymentAccountUniqueId isToken="@">4111</PaymentAccountUniqueId></PaymentContext></PaymentSettlementRequest>`, seamReference[PaymentSettlementRequest](rootSettlementRequest)},
	{`<PaymentSettlementRequest xmlns="` + Namespace + `" requestId="r"><@>Debit</@></PaymentSettlementRequest>`, seamReference[PaymentSettlementRequest](rootSettlementRequest)},
	{`<PaymentSettlementRequest xmlns="` + Namespace + `" requestId="r"><SettlementType>Debit</SettlementType@><Amount currencyCode="USD">1</Amount></PaymentSettlementRequest>`, seamReference[PaymentSettlementRequest](rootSettlementRequest)},
	{`<PaymentSettlementRequest xmlns="` + Namespace + `"><InvoiceData><LineItems><LineItem @><Quantity>1</Quantity></LineItem></LineItems></InvoiceData></PaymentSettlementRequest>`, seamReference[PaymentSettlementRequest](rootSettlementRequest)},
	{`@<PaymentSettlementRequestList xmlns="` + Namespace + `"><PaymentSettlementRequest requestId="a"/>@<PaymentSettlementRequest xmlns="` + Namespace + `" requestId="b"/></PaymentSettlementRequestList>@`, seamReference[PaymentSettlementRequestList](rootSettlementRequestList)},
	{`<PaymentSettlementStatusList xmlns="` + Namespace + `"><PaymentSettlementStatus @><SettlementStatus>S</SettlementStatus></PaymentSettlementStatus></PaymentSettlementStatusList>`, seamReference[PaymentSettlementStatusList](rootStatusList)},
	{`<ConfirmFundsReply xmlns="` + Namespace + `"><FundsAvailable>@</FundsAvailable></ConfirmFundsReply>`, seamReference[ConfirmFundsReply](rootConfirmFundsReply)},
	{`<AckReply xmlns="` + Namespace + `"><Received>@</Received></AckReply>`, seamReference[AckReply](rootAckReply)},
}

// seamReference is decodesAsReference for T with its root.
func seamReference[T any](root string) func(testing.TB, []byte) {
	return func(t testing.TB, body []byte) {
		t.Helper()
		decodesAsReference[T](t, body, root)
	}
}

// TestDecodeFastAdversarial: documents an attacker or a careless peer
// may send, for every type (the request above all: its amounts,
// currency, requestId and account move money), at the seams of the
// lexical rules (attribute white space and quoting, references, names,
// end tags, the prolog, UTF-8) and of the structure (order, repetition,
// list members): decodeFast agrees with the two passes, accepting
// (accept: as one of the types) or declining as the table says.
func TestDecodeFastAdversarial(t *testing.T) {
	const ns = Namespace
	req := func(attrs, inner string) string {
		return `<PaymentSettlementRequest xmlns="` + ns + `"` + attrs + `>` + inner + `</PaymentSettlementRequest>`
	}
	const id = ` requestId="r"`
	tests := []struct {
		name   string
		body   string
		accept bool
	}{
		{"tab reference in attributes", req(` requestId="a&#9;b"`, `<Amount currencyCode="U&#x9;SD">1</Amount>`), true},
		{"raw tab and newline in attributes (not normalized)", req(" requestId=\"a\tb\nc\"", "<Amount currencyCode=\"\tUSD\n\">1</Amount>"), true},
		{"raw CR in attribute", req(" requestId=\"a\r\"", ``), false},
		{"]]> in attribute", req(` requestId="a&amp;b&gt;c>d]]>e"`, ``), false},
		{"double quote in single-quoted attribute", req(` requestId='a"b'`, ``), true},
		{"spaces around =, padded amount", req(` requestId = 'x' `, `<Amount  currencyCode = "USD" > 10.00 </Amount >`), true},
		{"self-closing with and without space", req(id, `<Amount currencyCode="USD"/><SettlementType />`), true},
		{"references: leading zeros, hex digit case", req(` requestId="&#000065;&#x00041;&#x4a;&#x4A;"`, ``), true},
		{"reference of nine digits", req(` requestId="&#000000065;"`, ``), false},
		{"reference to NUL", req(` requestId="&#0;"`, ``), false},
		{"reference to a surrogate", req(` requestId="&#xD800;"`, ``), false},
		{"reference to a noncharacter", req(` requestId="&#x10FFFF;&#x10FFFE;&#xFFFF;"`, ``), false},
		{"reference above U+10FFFF", req(` requestId="&#1114112;"`, ``), false},
		{"entity name in upper case", req(` requestId="&LT;"`, ``), false},
		{"NUL in attribute", req(` requestId="a`+"\x00"+`"`, ``), false},
		{"U+FFFF in attribute", req(` requestId="a`+"\uFFFF"+`"`, ``), false},
		{"requestId twice", req(` requestId="x" requestId="y"`, ``), false},
		{"xml:lang", req(` xml:lang="en"`, ``), false},
		{"prefix declared", req(` xmlns:x="urn:x"`, ``), false},
		{"prefixed requestId", req(` x:requestId="x" xmlns:x="urn:x"`, ``), false},
		{"no space between attributes", req(id, `<Amount currencyCode="USD"x="1">1</Amount>`), false},
		{"elements out of order", req(id, `<SettlementType>Debit</SettlementType><Amount currencyCode="USD">1</Amount><PaymentContext><PaymentAccountUniqueId isToken="true">t</PaymentAccountUniqueId><OrderId>1</OrderId></PaymentContext>`), true},
		{"repeatable element around another", req(id, `<ShipmentData/><RefundReason>r</RefundReason><ShipmentData><ShippedDate>d</ShippedDate></ShipmentData>`), true},
		{"line item attributes in any order", req(id, `<InvoiceData type="a"><LineItems><LineItem lineId="1" lidCode="2"/><LineItem lidCode="3"/></LineItems></InvoiceData>`), true},
		{"line item attribute twice", req(id, `<InvoiceData type="a"><LineItems><LineItem lineId="1" lineId="2"/></LineItems></InvoiceData>`), false},
		{"padded isToken", req(id, `<PaymentContext><PaymentAccountUniqueId isToken=" true ">t</PaymentAccountUniqueId></PaymentContext>`), true},
		{"isToken twice", req(id, `<PaymentContext><PaymentAccountUniqueId isToken="true" isToken="false">t</PaymentAccountUniqueId></PaymentContext>`), false},
		{"newline in end tag", req(id, "<Amount currencyCode=\"USD\">1</Amount \n>"), true},
		{"space after </", req(id, `<ClientContext>a</ ClientContext>`), false},
		{"slash then space", req(id, `<ClientContext/ >`), false},
		{"end tag self-closed", req(id, `<ClientContext>a</ClientContext/>`), false},
		{"end tag unfinished", req(id, `<ClientContext>a</ClientContext`), false},
		{"name case", req(id, `<Clientcontext>x</Clientcontext>`), false},
		{"single-valued text twice, once empty", req(id, `<ClientContext></ClientContext><ClientContext/>`), false},
		{"TaxAmount twice", req(id, `<TaxAmount currencyCode="KWD">1.000</TaxAmount><TaxAmount>1000</TaxAmount>`), false},
		{"PersonName twice", req(id, `<BillingAddress><PersonName><LastName>a</LastName></PersonName><PersonName/></BillingAddress>`), false},
		{"VAT Amount twice", req(id, `<InvoiceData><VATData><VATRateInfo><VAT rate="1"><Amount currencyCode="X">1</Amount><Amount>2</Amount></VAT></VATRateInfo></VATData></InvoiceData>`), false},
		{"]]> in text", req(id, `<ClientContext>a]]b]>c]]]>d</ClientContext>`), false},
		{"]]> made with a reference", req(id, `<ClientContext>&#93;]>c</ClientContext>`), true},
		{"]]> made with a reference in the middle", req(id, `<ClientContext>]&#93;>c</ClientContext>`), true},
		{"truncated UTF-8", req(id, `<ClientContext>é`+"\xc3"+`</ClientContext>`), false},
		{"UTF-8 surrogate", req(id, "<ClientContext>\xed\xa0\x80</ClientContext>"), false},
		{"UTF-8 above U+10FFFF", req(id, "<ClientContext>\xf4\x90\x80\x80</ClientContext>"), false},
		{"overlong UTF-8", req(id, "<ClientContext>\xc0\xaf</ClientContext>"), false},
		{"declaration after white space", "  <?xml version=\"1.0\"?>" + req(id, ``), true},
		{"white space around the root", "<?xml version=\"1.0\"?>\n\n  " + req(id, ``) + "\n\t\r\n", true},
		{"two declarations", `<?xml version="1.0"?><?xml version="1.0"?>` + req(id, ``), false},
		{"encoding in mixed case", `<?xml version="1.0" encoding="Utf-8"?>` + req(id, ``), false},
		{"no-break space after the root", req(id, ``) + "\u00a0", false},
		{"no-break space before the root", "\u00a0" + req(id, ``), false},
		{"NUL after the root", req(id, ``) + "\x00", false},
		{"xmlns twice", `<PaymentSettlementRequest xmlns="` + ns + `" xmlns="` + ns + `"/>`, false},
		{"xmlns after requestId", `<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"></PaymentSettlementRequest>`, true},
		{"xmlns by a reference", `<PaymentSettlementStatus xmlns="http://api.gsicommerce.com/schema/checkout/1.&#48;"/>`, true},
		{"xmlns padded", `<PaymentSettlementStatus xmlns="` + ns + `&#x20;"/>`, false},
		{"list members with and without xmlns", `<PaymentSettlementRequestList xmlns="` + ns + `"><PaymentSettlementRequest requestId="a"/><PaymentSettlementRequest xmlns="` + ns + `" requestId="b"></PaymentSettlementRequest></PaymentSettlementRequestList>`, true},
		{"requestId on the list", `<PaymentSettlementRequestList xmlns="` + ns + `" requestId="a"><PaymentSettlementRequest/></PaymentSettlementRequestList>`, false},
		{"list member without namespace", `<PaymentSettlementRequestList xmlns="` + ns + `"><PaymentSettlementRequest xmlns=""/></PaymentSettlementRequestList>`, false},
		{"requestId on a status", `<PaymentSettlementStatusList xmlns="` + ns + `"><PaymentSettlementStatus requestId="1"/></PaymentSettlementStatusList>`, false},
		{"white space in Received", `<AckReply xmlns="` + ns + `"><Received> </Received></AckReply>`, true},
		{"text in Received", `<AckReply xmlns="` + ns + `"><Received>x</Received></AckReply>`, false},
		{"Received twice", `<AckReply xmlns="` + ns + `"><Received/><Received/></AckReply>`, false},
		{"FundsAvailable twice", `<ConfirmFundsReply xmlns="` + ns + `"><FundsAvailable>Success</FundsAvailable><FundsAvailable>Fail</FundsAvailable></ConfirmFundsReply>`, false},
		{"padded FundsAvailable (kept as sent)", `<ConfirmFundsReply xmlns="` + ns + `"><FundsAvailable> Success </FundsAvailable></ConfirmFundsReply>`, true},
		{"amount by references", `<PaymentSettlementStatus xmlns="` + ns + `"><Amount currencyCode="USD">&#x31;&#48;.00</Amount></PaymentSettlementStatus>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fastAgreesAll(t, []byte(tt.body)) > 0; got != tt.accept {
				t.Errorf("decodeFast accepted = %v, want %v:\n%q", got, tt.accept, tt.body)
			}
			decodesAsReferenceAll(t, []byte(tt.body))
		})
	}
}

package messages

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// xmlNode is a generic element tree for comparing documents: whitespace-only
// text, comments, processing instructions and namespace declarations are
// ignored; names are compared with their resolved namespace.
type xmlNode struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Text     string
	Children []*xmlNode
}

// parseTree reads a document into an xmlNode tree.
func parseTree(t *testing.T, body []byte) *xmlNode {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(body))
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parseTree: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{Name: tk.Name}
			for _, a := range tk.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				n.Attrs = append(n.Attrs, a)
			}
			slices.SortFunc(n.Attrs, func(a, b xml.Attr) int {
				return strings.Compare(a.Name.Space+" "+a.Name.Local, b.Name.Space+" "+b.Name.Local)
			})
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && strings.TrimSpace(string(tk)) != "" {
				stack[len(stack)-1].Text += string(tk)
			}
		}
	}
	if root == nil {
		t.Fatal("parseTree: no root element")
	}
	return root
}

// diffTree returns "" when two trees are equivalent, else where they differ.
func diffTree(a, b *xmlNode, path string) string {
	path += "/" + a.Name.Local
	switch {
	case a.Name != b.Name:
		return fmt.Sprintf("%s: element %v != %v", path, a.Name, b.Name)
	case !reflect.DeepEqual(a.Attrs, b.Attrs):
		return fmt.Sprintf("%s: attributes %v != %v", path, a.Attrs, b.Attrs)
	case a.Text != b.Text:
		return fmt.Sprintf("%s: text %q != %q", path, a.Text, b.Text)
	case len(a.Children) != len(b.Children):
		return fmt.Sprintf("%s: %d children != %d", path, len(a.Children), len(b.Children))
	}
	for i := range a.Children {
		if d := diffTree(a.Children[i], b.Children[i], path); d != "" {
			return d
		}
	}
	return ""
}

// assertEquivalent fails unless two XML documents are equivalent.
func assertEquivalent(t *testing.T, want, got []byte) {
	t.Helper()
	if d := diffTree(parseTree(t, want), parseTree(t, got), ""); d != "" {
		t.Errorf("re-encoding is not equivalent to the input: %s\ngot:\n%s", d, got)
	}
}

// readGolden reads testdata/name.
func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip decodes body, optionally validates, re-encodes, decodes again
// and checks deep equality and XML equivalence; it returns the first value.
func roundTrip[T any](t *testing.T, body []byte, decode func([]byte) (*T, error), validate bool) *T {
	t.Helper()
	v, err := decode(body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if validate {
		if err := any(v).(interface{ Validate() error }).Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	}
	out, err := Encode(v)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if !bytes.HasPrefix(out, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("Encode output lacks the XML declaration: %.60s", out)
	}
	again, err := decode(out)
	if err != nil {
		t.Fatalf("decode of the re-encoding: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(v, again) {
		t.Errorf("decode(Encode(v)) != v\nfirst:  %+v\nsecond: %+v", v, again)
	}
	assertEquivalent(t, body, out)
	return v
}

func TestGoldenRequestsWithBothContextsAreRefused(t *testing.T) {
	for _, name := range []string{"request_optional_both_contexts.xml", "request_required_both_contexts.xml"} {
		t.Run(name, func(t *testing.T) {
			body := readGolden(t, name)
			r, err := DecodeSettlementRequest(body)
			if err != nil {
				t.Fatalf("DecodeSettlementRequest: %v", err)
			}
			err = r.Validate()
			var errs ValidationErrors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate() = %v, want ValidationErrors", err)
			}
			want := ValidationErrors{{Path: "PaymentSettlementRequest", Rule: "PaymentContext and PaymentContextBase are a choice: send only one"}}
			if !reflect.DeepEqual(errs, want) {
				t.Errorf("Validate() = %v, want only %v", errs, want)
			}
			if !strings.Contains(err.Error(), "PaymentContext and PaymentContextBase are a choice: send only one") {
				t.Errorf("error text %q does not state the choice", err)
			}
			// Even refused, the verbatim example re-encodes equivalently.
			out, err := Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			assertEquivalent(t, body, out)
		})
	}
}

func TestGoldenRequests(t *testing.T) {
	tests := []struct {
		file     string
		base     bool // PaymentContextBase instead of PaymentContext
		orderID  string
		amount   string
		tax      string
		invoice  string
		optional bool
	}{
		{"request_optional_payment_context.xml", false, "OrderId01013", "55.00", "0.00", "con10000148398750_0", true},
		{"request_optional_payment_context_base.xml", true, "12345", "55.00", "0.00", "con10000148398750_0", true},
		{"request_required_payment_context.xml", false, "OrderId01013", "100.00", "6.00", "invoice-id", false},
		{"request_required_payment_context_base.xml", true, "12345", "100.00", "6.00", "invoice-id", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readGolden(t, tt.file)
			r := roundTrip(t, body, DecodeSettlementRequest, true)
			if r.RequestID != "123" || r.OrderID() != tt.orderID || r.InvoiceID != tt.invoice {
				t.Errorf("requestId %q, order %q, invoice %q", r.RequestID, r.OrderID(), r.InvoiceID)
			}
			if tt.base != (r.PaymentContextBase != nil) || tt.base == (r.PaymentContext != nil) {
				t.Errorf("contexts: PaymentContext %v, PaymentContextBase %v", r.PaymentContext, r.PaymentContextBase)
			}
			if !tt.base && r.PaymentContext.PaymentAccountUniqueID != (AccountID{IsToken: "false", Value: "4400000000000008"}) {
				t.Errorf("account not decoded")
			}
			m, err := r.Amount.Money()
			if err != nil || m.String() != tt.amount || m.Currency != "USD" {
				t.Errorf("Amount.Money() = %v %v, %v; want %s USD", m, m.Currency, err, tt.amount)
			}
			if r.TaxAmount == nil || r.TaxAmount.Value != tt.tax {
				t.Errorf("TaxAmount = %+v, want %s", r.TaxAmount, tt.tax)
			}
			if r.SettlementType != SettlementDebit {
				t.Errorf("SettlementType = %q", r.SettlementType)
			}
			if tt.optional {
				checkOptionalExample(t, r)
			} else if r.FinalDebit != "true" || r.ClientContext != "987654321" {
				t.Errorf("FinalDebit %q, ClientContext %q", r.FinalDebit, r.ClientContext)
			}
			checkJSONRoundTrip(t, r)
		})
	}
}

// checkOptionalExample spot-checks the "With optional elements" values.
func checkOptionalExample(t *testing.T, r *PaymentSettlementRequest) {
	t.Helper()
	if r.AuthorizationDate != "2021-04-28T11:56:00.998Z" || r.ExpirationDate != "2030-10-05:00" || r.ClientContext != "9841238411317" {
		t.Errorf("dates/context: %q %q %q", r.AuthorizationDate, r.ExpirationDate, r.ClientContext)
	}
	if r.BillingAddress == nil || r.BillingAddress.PersonName.LastName != "john" || r.BillingAddress.Address.City != "Miami" {
		t.Errorf("BillingAddress = %+v", r.BillingAddress)
	}
	li := r.InvoiceData.LineItems.LineItem
	if len(li) != 1 || li[0].ItemID != "15123" || li[0].Quantity != "1" || li[0].ItemShortDescription != "NA" {
		t.Errorf("LineItems = %+v", li)
	}
	if ca := r.InvoiceData.CustomAttributes.CustomAttribute; len(ca) != 1 || ca[0] != (CustomAttribute{Key: "DomOrchestrated", Value: "false"}) {
		t.Errorf("CustomAttributes = %+v", ca)
	}
	if len(r.ShipmentData) != 1 {
		t.Fatalf("ShipmentData = %+v", r.ShipmentData)
	}
	s := r.ShipmentData[0]
	if *s.ShipmentCount != (ShipmentCount{CurrentCount: "1", TotalCount: "1"}) || s.ShippedDate != "2021-05-10T21:59:13Z" || s.Carrier.Name != "FEDEX" || s.TrackingID != "78699817734" {
		t.Errorf("ShipmentData[0] = %+v", s)
	}
	if r.SourceOrderSystem != "OOMF" {
		t.Errorf("SourceOrderSystem = %q", r.SourceOrderSystem)
	}
}

// checkJSONRoundTrip sends the request through JSON and expects the same
// value and fingerprint back.
func checkJSONRoundTrip(t *testing.T, r *PaymentSettlementRequest) {
	t.Helper()
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSettlementRequestJSON(body)
	if err != nil {
		t.Fatalf("DecodeSettlementRequestJSON(json.Marshal(r)): %v\n%s", err, body)
	}
	if !reflect.DeepEqual(r, back) {
		t.Errorf("JSON round trip differs\nxml:  %+v\njson: %+v", r, back)
	}
	if r.Fingerprint() != back.Fingerprint() {
		t.Errorf("fingerprint differs between the XML and the JSON form")
	}
}

func TestGoldenStatuses(t *testing.T) {
	tests := []struct {
		file, tender, typ, status, decline string
		base                               bool
	}{
		{"status_debit_with_account.xml", "VC", SettlementDebit, StatusSettled, "", false},
		{"status_credit_rejected_with_account.xml", "VC", SettlementCredit, StatusRejected, "Insufficient Capture balance for refund request amount", false},
		{"status_debit_without_account.xml", "PY", SettlementDebit, StatusSettled, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := roundTrip(t, readGolden(t, tt.file), DecodeSettlementStatus, true)
			if s.TenderType != tt.tender || s.SettlementType != tt.typ || s.SettlementStatus != tt.status || s.DeclineReason != tt.decline {
				t.Errorf("status = %+v", s)
			}
			if s.OrderID() != "12345" || s.ClientContext != "987654321" || s.StoreID != "ABCXYZ" || s.Amount != (Amount{CurrencyCode: "USD", Value: "100.00"}) {
				t.Errorf("status = %+v", s)
			}
			if tt.base != (s.PaymentContextBase != nil) {
				t.Errorf("PaymentContextBase = %v", s.PaymentContextBase)
			}
		})
	}
}

func TestGoldenStatusLists(t *testing.T) {
	tests := []struct {
		file    string
		orders  []string
		amounts []string
	}{
		{"status_list_debit_with_account.xml", []string{"12345", "10001"}, []string{"100.00", "200.00"}},
		{"status_list_credit_rejected_with_account.xml", []string{"12345", "100023"}, []string{"100.00", "500.00"}},
		{"status_list_debit_without_account.xml", []string{"12345", "11111"}, []string{"100.00", "520.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			l := roundTrip(t, readGolden(t, tt.file), DecodeStatusList, true)
			if len(l.Statuses) != len(tt.orders) {
				t.Fatalf("%d statuses, want %d", len(l.Statuses), len(tt.orders))
			}
			for i := range l.Statuses {
				s := &l.Statuses[i]
				if err := s.Validate(); err != nil {
					t.Errorf("status %d: %v", i+1, err)
				}
				if s.OrderID() != tt.orders[i] || s.Amount.Value != tt.amounts[i] {
					t.Errorf("status %d: order %q amount %q", i+1, s.OrderID(), s.Amount.Value)
				}
			}
		})
	}
}

func TestGoldenAckReply(t *testing.T) {
	a := roundTrip(t, readGolden(t, "ack_reply.xml"), DecodeAckReply, false)
	if a.Received == nil {
		t.Error("AckReply.Received is nil")
	}
}

func TestTreeComparator(t *testing.T) {
	const base = `<a xmlns="urn:x" k="1"><b>t</b><c/></a>`
	same := []string{
		"<?xml version=\"1.0\"?>\n<a xmlns=\"urn:x\" k=\"1\">\n  <!-- c -->\n  <b>t</b>\n  <c></c>\n</a>",
		`<p:a xmlns:p="urn:x" k="1"><p:b>t</p:b><p:c/></p:a>`,
	}
	different := []string{
		`<a xmlns="urn:x" k="2"><b>t</b><c/></a>`,
		`<a xmlns="urn:x" k="1"><b>u</b><c/></a>`,
		`<a xmlns="urn:x" k="1"><c/><b>t</b></a>`,
		`<a xmlns="urn:x" k="1"><b>t</b></a>`,
		`<a xmlns="urn:y" k="1"><b>t</b><c/></a>`,
		`<a xmlns="urn:x"><b>t</b><c/></a>`,
	}
	tree := parseTree(t, []byte(base))
	for _, s := range same {
		if d := diffTree(tree, parseTree(t, []byte(s)), ""); d != "" {
			t.Errorf("%s: %s", s, d)
		}
	}
	for _, s := range different {
		if d := diffTree(tree, parseTree(t, []byte(s)), ""); d == "" {
			t.Errorf("%s compared equal to %s", s, base)
		}
	}
}

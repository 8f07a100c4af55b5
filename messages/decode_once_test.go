package messages

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// twoPasses is decodeXML as it was before decodeOnce: the check, then
// Unmarshal, for every body.
func twoPasses[T any](body []byte, root string) (*T, error) {
	return decodeTwoPasses[T](bytes.TrimPrefix(body, utf8BOM), root)
}

// sameDecode fails unless decodeXML returns what the two passes return for
// body — the same value, or an error in the same words — and reports
// whether it took the one-pass path.
func sameDecode[T any](t testing.TB, body []byte, root string) (onePass bool) {
	t.Helper()
	got, gotErr := decodeXML[T](body, root)
	want, wantErr := twoPasses[T](body, root)
	if errString(gotErr) != errString(wantErr) {
		t.Fatalf("decodeXML error %q, two passes %q:\n%s", errString(gotErr), errString(wantErr), body)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeXML decoded another value:\n got  %#v\n want %#v\n body %s", got, want, body)
	}
	trimmed := bytes.TrimPrefix(body, utf8BOM)
	if bytes.Contains(trimmed, markupDecl) {
		return false
	}
	_, onePass = decodeOnce[T](trimmed, root)
	if !onePass && wantErr == nil {
		t.Fatalf("decodeOnce refused a body without \"<!\" that the two passes accept:\n%s", body)
	}
	return onePass
}

// bodyVariants returns body and variants around its root: the seams where
// checkXML refuses what Unmarshal alone would accept.
func bodyVariants(body string) []string {
	i := strings.Index(body, "<"+"Payment")
	if j := strings.Index(body, "<"+"AckReply"); i < 0 || (j >= 0 && j < i) {
		i = j
	}
	prolog, rest := body[:max(i, 0)], body[max(i, 0):]
	end := strings.LastIndex(rest, ">") + 1
	root, epilog := rest[:end], rest[end:]
	return []string{
		body,
		prolog + root,
		"\n  " + prolog + root + "\n\n",
		prolog + "<!-- a comment -->" + root + "<!-- and after -->",
		prolog + "<?pi x?>" + root + "<?pi y?>",
		prolog + "text" + root,
		prolog + root + "text",
		prolog + root + epilog + root,
		prolog + root + "<Other/>",
		"<!DOCTYPE x>" + root,
		prolog + strings.Replace(root, ">", "><!ENTITY e 'x'>", 1),
		prolog + strings.Replace(root, "checkout/1.0", "checkout/2.0", 1),
		prolog + strings.Replace(root, "xmlns=", "xmlns:p=", 1),
		prolog + root[:len(root)/2],
		prolog + strings.Replace(root, "</", "<", 1),
		prolog + root + "</Extra>",
		prolog + strings.Replace(root, ">", "><Unknown>x</Unknown>", 2),
		prolog + strings.Replace(root, ">", "><![CDATA[<x>]]>", 2),
		prolog + strings.Replace(root, ">", ">&amp;&lt;&#x41;", 3),
		prolog + strings.Replace(root, ">", ">&undefined;", 3),
		"",
		"   ",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + root,
	}
}

// Every golden document, and variants of each at the seams of the check,
// decode the same way in one pass and in two.
func TestDecodeOnceMatchesTwoPasses(t *testing.T) {
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden documents: %v", err)
	}
	var accepted, refused int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range bodyVariants(string(raw)) {
			t.Run(filepath.Base(f)+"/"+string(rune('a'+i)), func(t *testing.T) {
				var ok bool
				for _, try := range []func() bool{
					func() bool { return sameDecode[PaymentSettlementRequest](t, []byte(b), rootSettlementRequest) },
					func() bool { return sameDecode[PaymentSettlementStatus](t, []byte(b), rootSettlementStatus) },
					func() bool { return sameDecode[PaymentSettlementStatusList](t, []byte(b), rootStatusList) },
					func() bool { return sameDecode[AckReply](t, []byte(b), rootAckReply) },
				} {
					ok = try() || ok
				}
				if ok {
					accepted++
				} else {
					refused++
				}
			})
		}
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("the variants should take both paths: %d in one pass, %d in two", accepted, refused)
	}
}

// go test -fuzz FuzzDecodeOnceMatchesTwoPasses ./messages explores further.
func FuzzDecodeOnceMatchesTwoPasses(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, file := range files {
		if raw, err := os.ReadFile(file); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameDecode[PaymentSettlementRequest](t, body, rootSettlementRequest)
		sameDecode[PaymentSettlementStatus](t, body, rootSettlementStatus)
	})
}

// TestOnePassResolvesNamespacesAsTheTwoPasses: the one-pass path reads raw
// tokens and resolves the names it checks itself (strictReader.raw), the
// outer decoder resolving them again for Unmarshal; the two passes read
// names resolved by encoding/xml. Every way of writing the namespace —
// prefixes, a default namespace rebound or undone in a child and back in
// scope after it, a prefix shadowed in a child and restored, xml:
// attributes, unbound prefixes — decodes to the same value or the same
// error on both paths.
func TestOnePassResolvesNamespacesAsTheTwoPasses(t *testing.T) {
	const ns = `http://api.gsicommerce.com/schema/checkout/1.0`
	bodies := []string{
		// prefixed throughout
		`<p:PaymentSettlementRequest requestId="1" xmlns:p="` + ns + `"><p:PaymentContext><p:OrderId>O-1</p:OrderId><p:PaymentAccountUniqueId isToken="true">tok</p:PaymentAccountUniqueId></p:PaymentContext><p:Amount currencyCode="USD">1.00</p:Amount><p:SettlementType>Debit</p:SettlementType></p:PaymentSettlementRequest>`,
		// the default namespace rebound in an unknown child, in scope again after it
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><Ext xmlns="urn:other"><OrderId>X</OrderId></Ext><PaymentContext><OrderId>O-1</OrderId><PaymentAccountUniqueId isToken="true">tok</PaymentAccountUniqueId></PaymentContext><Amount currencyCode="USD">1.00</Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`,
		// the default namespace undone in a known child
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><PaymentContext xmlns=""><OrderId>O-1</OrderId></PaymentContext><Amount currencyCode="USD">1.00</Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`,
		// a prefix shadowed in a child, restored for its sibling
		`<p:PaymentSettlementRequest requestId="1" xmlns:p="` + ns + `"><p:Ext xmlns:p="urn:other"><p:Amount currencyCode="USD">9.00</p:Amount></p:Ext><p:PaymentContext><p:OrderId>O-1</p:OrderId><p:PaymentAccountUniqueId isToken="true">tok</p:PaymentAccountUniqueId></p:PaymentContext><p:Amount currencyCode="USD">1.00</p:Amount><p:SettlementType>Debit</p:SettlementType></p:PaymentSettlementRequest>`,
		// a prefix bound to our namespace only inside a child
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><PaymentContext xmlns:q="` + ns + `"><q:OrderId>O-1</q:OrderId><PaymentAccountUniqueId isToken="true">tok</PaymentAccountUniqueId></PaymentContext><Amount currencyCode="USD">1.00</Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`,
		// ... and used outside it, where it is unbound
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><PaymentContext xmlns:q="` + ns + `"><OrderId>O-1</OrderId></PaymentContext><q:Amount currencyCode="USD">1.00</q:Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`,
		// xml: and unbound-prefix attributes
		`<PaymentSettlementRequest requestId="1" xml:lang="en" xmlns="` + ns + `"><PaymentContext><OrderId xml:space="preserve">O-1</OrderId><PaymentAccountUniqueId isToken="true">tok</PaymentAccountUniqueId></PaymentContext><Amount currencyCode="USD" z:currencyCode="JPY">1.00</Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`,
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><PaymentContext><OrderId>O-1</OrderId></PaymentContext><Amount xml:currencyCode="USD">1.00</Amount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`,
		// an element in the xml: namespace
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><xml:Amount currencyCode="USD">1.00</xml:Amount></PaymentSettlementRequest>`,
		// an element closed under another prefix bound to the same namespace
		`<p:PaymentSettlementRequest requestId="1" xmlns:p="` + ns + `" xmlns:q="` + ns + `"><p:SettlementType>Debit</q:SettlementType></p:PaymentSettlementRequest>`,
		// a prefix rebound on the element that uses it, and an xmlns:p twice
		`<p:PaymentSettlementRequest requestId="1" xmlns:p="urn:other" xmlns:p="` + ns + `"><p:SettlementType>Debit</p:SettlementType></p:PaymentSettlementRequest>`,
		// the namespace declared after the attribute that uses its prefix
		`<PaymentSettlementRequest requestId="1" xmlns="` + ns + `"><Amount p:currencyCode="USD" xmlns:p="` + ns + `">1.00</Amount></PaymentSettlementRequest>`,
	}
	for i, body := range bodies {
		for _, v := range bodyVariants(body) {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				sameDecode[PaymentSettlementRequest](t, []byte(v), rootSettlementRequest)
				sameDecode[PaymentSettlementStatus](t, []byte(v), rootSettlementStatus)
			})
		}
	}
}

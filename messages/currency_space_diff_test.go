package messages

import (
	"encoding/xml"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPaddedCurrencyCodeAgreesWithTheWalk is a differential test of the
// byte scan that gates decodeXML's walk (paddedCurrencyCode): over
// generated documents (requests, statuses, status lists), each
// currencyCode written with white space or character references at
// either end or inside, either quote, white space around '=', with
// look-alikes in comments, CDATA sections and text, the document
// decodeXML returns must be the one it returns when the walk always runs
// (collapseAmounts). A padded code the scan missed would stay padded:
// a request the schema reads as USD parked, a status echoing " USD".
func TestPaddedCurrencyCodeAgreesWithTheWalk(t *testing.T) {
	files := []string{
		"request_required_payment_context_base.xml", "request_optional_both_contexts.xml",
		"status_debit_with_account.xml", "status_credit_rejected_with_account.xml",
		"status_list_debit_with_account.xml", "status_list_credit_rejected_with_account.xml",
	}
	attr := regexp.MustCompile(`currencyCode="USD"`)
	edges := []string{" ", "\t", "\n", "\r\n", "  ", "&#x20;", "&#32;", "&#9;", "&#xA;", "&#13;", "&#x0D;", " &#x20;", "&#x20; "}
	codes := []string{"USD", "USD", "U&#83;D", "&#85;SD", "US&#x44;", "U SD", "", "JPY", "KWD"}
	spaces := []string{"", "", " ", "\n", "\t", " \r\n "}
	lookalikes := []string{
		``, ``,
		`<!-- currencyCode=" USD" -->`,
		`<!-- currencyCode="abc -->`,
		`<!-- currencyCode = 'USD ' -->`,
	}
	texts := []string{`currencyCode="abc`, `currencyCode = "USD"`, `currencyCode='x`, `<![CDATA[currencyCode=" USD]]>`, `<![CDATA[currencyCode="]]>`}
	rng := rand.New(rand.NewPCG(27, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var walked, padded, refused int
	for _, f := range files {
		base, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for range 400 {
			body := attr.ReplaceAllStringFunc(string(base), func(string) string {
				q := `"`
				if rng.IntN(3) == 0 {
					q = `'`
				}
				edge := func() string {
					if rng.IntN(2) == 0 {
						return ""
					}
					return pick(edges)
				}
				return "currencyCode" + pick(spaces) + "=" + pick(spaces) + q + edge() + pick(codes) + edge() + q
			})
			// A look-alike before the first element the scan reads, and
			// in the text of ClientContext (a string the walk ignores).
			body = strings.Replace(body, "<Amount", pick(lookalikes)+"<Amount", 1)
			if rng.IntN(2) == 0 {
				body = strings.Replace(body, "<ClientContext>", "<ClientContext>"+pick(texts), 1)
			}
			switch differsWhenWalked(t, []byte(body), strings.HasPrefix(f, "request"), strings.HasPrefix(f, "status_list")) {
			case -1:
				refused++
			case 1:
				padded++
			}
			walked++
		}
	}
	if padded == 0 {
		t.Fatalf("none of %d generated documents decoded with a padded code: the generator tests nothing", walked)
	}
	t.Logf("%d documents: %d refused, %d decoded with a padded code", walked, refused, padded)
}

// differsWhenWalked decodes body as decodeXML does and again with the walk
// forced, fails t when they differ, and returns 1 when the walk changed a
// code (the document had a padded one), -1 when decodeXML refused body,
// else 0.
func differsWhenWalked(t *testing.T, body []byte, request, list bool) int {
	t.Helper()
	switch {
	case request:
		return agree[PaymentSettlementRequest](t, body, rootSettlementRequest)
	case list:
		return agree[PaymentSettlementStatusList](t, body, rootStatusList)
	}
	return agree[PaymentSettlementStatus](t, body, rootSettlementStatus)
}

func agree[T any](t *testing.T, body []byte, root string) int {
	t.Helper()
	got, err := decodeXML[T](body, root)
	if err != nil {
		return -1 // refused: nothing to collapse
	}
	// The same document decoded again (its own values, nothing shared
	// with got), then walked whatever the scan says.
	walked, err := decodeXML[T](body, root)
	if err != nil {
		t.Fatalf("second decode: %v", err)
	}
	collapseAmounts(reflect.ValueOf(walked))
	if !reflect.DeepEqual(got, walked) {
		t.Fatalf("the scan (paddedCurrencyCode = %v) left a code the walk collapses:\n%s\ndecoded %+v\nwalked  %+v", paddedCurrencyCode(body), body, got, walked)
	}
	// Counted: the document as read, never collapsed, had a padded code.
	raw := new(T)
	if xml.Unmarshal(body, raw) == nil && !slices.Equal(currencyCodes(reflect.ValueOf(raw)), currencyCodes(reflect.ValueOf(walked))) {
		return 1
	}
	return 0
}

// currencyCodes lists the currency codes of every Amount in v.
func currencyCodes(v reflect.Value) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return currencyCodes(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		var out []string
		for i := range v.Len() {
			out = append(out, currencyCodes(v.Index(i))...)
		}
		return out
	case reflect.Struct:
		if v.Type() == amountType {
			return []string{v.FieldByName("CurrencyCode").String()}
		}
		var out []string
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = append(out, currencyCodes(v.Field(i))...)
			}
		}
		return out
	}
	return nil
}

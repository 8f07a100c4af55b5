package messages

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func TestAccountNumberNeverPrinted(t *testing.T) {
	const pan = "4400000000000008"
	req, err := DecodeSettlementRequest(readGolden(t, "request_optional_payment_context.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if req.PaymentContext.PaymentAccountUniqueID.Value != pan {
		t.Fatalf("fixture account = %q", req.PaymentContext.PaymentAccountUniqueID)
	}
	status := validStatus()
	status.PaymentContext.PaymentAccountUniqueID.Value = pan
	list := &PaymentSettlementStatusList{Statuses: []PaymentSettlementStatus{*status}}
	confirm := &ConfirmFundsRequest{PaymentContext: req.PaymentContext}
	values := map[string]any{
		"*request":        req,
		"request":         *req,
		"*PaymentContext": req.PaymentContext,
		"PaymentContext":  *req.PaymentContext,
		"AccountID":       req.PaymentContext.PaymentAccountUniqueID,
		"*AccountID":      &req.PaymentContext.PaymentAccountUniqueID,
		"*status":         status,
		"status list":     list,
		"request list":    &PaymentSettlementRequestList{Requests: []PaymentSettlementRequest{*req}},
		"confirm funds":   confirm,
		"slice":           []*PaymentContext{req.PaymentContext},
		"map":             map[string]*PaymentSettlementRequest{"r": req},
		"nested anon":     struct{ R *PaymentSettlementRequest }{req},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10v", "%-30s"}
	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, pan) || strings.Contains(strings.ToLower(out), hex.EncodeToString([]byte(pan))) || strings.Contains(out, "44000000") {
				t.Errorf("fmt %s of %s prints the account number: %s", verb, name, out)
			}
		}
	}
	if got := fmt.Sprintf("%v", req.PaymentContext); got != "{OrderId01013 ************0008}" {
		t.Errorf("%%v of *PaymentContext = %q", got)
	}
	if got := fmt.Sprintf("%+v", *req.PaymentContext); got != "{OrderID:OrderId01013 PaymentAccountUniqueID:************0008}" {
		t.Errorf("%%+v of PaymentContext = %q", got)
	}
	if got := fmt.Sprintf("%#v", req.PaymentContext.PaymentAccountUniqueID); got != `messages.AccountID{IsToken:"false", Value:"************0008"}` {
		t.Errorf("%%#v of AccountID = %q", got)
	}
	if got := fmt.Sprintf("%+v", req); !strings.Contains(got, "PaymentContext:{OrderID:OrderId01013 PaymentAccountUniqueID:************0008}") {
		t.Errorf("%%+v of the request does not show the masked context: %s", got)
	}
	var nilCtx *PaymentContext
	if got := fmt.Sprintf("%v", nilCtx); got != "<nil>" {
		t.Errorf("%%v of a nil *PaymentContext = %q", got)
	}
}

func TestMaskAccount(t *testing.T) {
	for in, want := range map[string]string{"4400000000000008": "************0008", "1234": "****", "12": "**", "": ""} {
		if got := MaskAccount(in); got != want {
			t.Errorf("MaskAccount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPANs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"account 4400000000000008 failed", "account ************0008 failed"},
		{"4111111111111111", "************1111"},
		{"two: 4111111111111111 and 5500000000000004.", "two: ************1111 and ************0004."},
		{"order 1234567890123 (not Luhn)", "order 1234567890123 (not Luhn)"},
		{"short 411111111111", "short 411111111111"},
		{"20 digits 41111111111111111111", "20 digits 41111111111111111111"},
		{"no digits", "no digits"},
		{"", ""},
		{"card 4111 1111 1111 1111 refused", "card **** **** **** 1111 refused"},
		{"card 4012-8888-8888-1881.", "card ****-****-****-1881."},
		{"card 4012888888881881 2026", "card ************1881 2026"},
		{"dates 2026-12-06 and 1234 5678", "dates 2026-12-06 and 1234 5678"},
		// Other separators a person or a system writes between groups.
		{"card 4111.1111.1111.1111 refused", "card ****.****.****.1111 refused"},
		{"card 4111  1111  1111  1111", "card ****  ****  ****  1111"},
		{"card 4111\u00a01111\u00a01111\u00a01111", "card ****\u00a0****\u00a0****\u00a01111"},
		{"card 4111_1111_1111_1111", "card ****_****_****_1111"},
		{"card 4111 - 1111 - 1111 - 1111", "card **** - **** - **** - 1111"},
		{"card 4111/1111/1111/1111", "card ****/****/****/1111"},
		{"card 4111\t1111\t1111\t1111", "card ****\t****\t****\t1111"},
		// Groups more than three separators apart are other numbers.
		{"far apart 4111    1111 1111 1111", "far apart 4111    1111 1111 1111"},
	} {
		if got := MaskPANs(tc.in); got != tc.want {
			t.Errorf("MaskPANs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

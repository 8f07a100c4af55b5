package radial_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// faultServer answers every call with a Fault whose code and description
// are given.
func faultServer(t *testing.T, status int, code, desc string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Fault xmlns="` + messages.Namespace +
			`"><Code>` + code + `</Code><Description>` + desc + `</Description></Fault>`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A request whose PaymentAccountUniqueId is pretty-printed (white space
// around the PAN: a valid xsd:string of at most 22 characters, accepted by
// DecodeSettlementRequest and Validate) was redacted by its exact value,
// white space included, so a Fault that echoes the PAN as Radial
// normalized it put the full PAN in the error (logs, parked reason). It is
// masked now, trimmed, and so is any card number in a fault (MaskPANs).
func TestFaultEchoingAPaddedPANIsMasked(t *testing.T) {
	body := `<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementRequest requestId="rev5-pad-1" xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
  <PaymentContext>
    <OrderId>ORD-PAD-1</OrderId>
    <PaymentAccountUniqueId isToken="false">
  ` + pan + `
</PaymentAccountUniqueId>
  </PaymentContext>
  <InvoiceId>INV-1</InvoiceId>
  <Amount currencyCode="USD">10.00</Amount>
  <TaxAmount currencyCode="USD">0.00</TaxAmount>
  <SettlementType>Debit</SettlementType>
</PaymentSettlementRequest>`
	m, err := messages.DecodeSettlementRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("the request is refused, so no leak path: %v", err)
	}
	base := faultServer(t, http.StatusBadRequest, "ValidationFailed", "PaymentAccountUniqueId "+pan+" failed the issuer check")
	c := newClient(t, base, apiKey)
	req := request("rev5-pad-1", "ORD-PAD-1", messages.SettlementDebit, "10.00", "10.00")
	req.Message = m
	for name, call := range map[string]func() error{
		"Settle":       func() error { _, err := c.Settle(context.Background(), req); return err },
		"ConfirmFunds": func() error { _, err := c.ConfirmFunds(context.Background(), req); return err },
	} {
		err := call()
		if err == nil {
			t.Fatalf("%s: want a fault error", name)
		}
		if strings.Contains(err.Error(), pan) || strings.Contains(providers.ReasonOf(err), pan) {
			t.Errorf("%s: error leaks the PAN: %v", name, err)
		}
	}
}

// The Fault's Code was put in the error unredacted (only Description was
// masked): a Code echoing the account number reached err.Error(), which
// the handler logs (log.Warn().Err(err)). It is masked and bounded now.
func TestFaultCodeIsMasked(t *testing.T) {
	base := faultServer(t, http.StatusBadRequest, "InvalidAccount:"+pan, "bad account")
	c := newClient(t, base, apiKey)
	req := request("rev5-code-1", "ORD-CODE-1", messages.SettlementDebit, "10.00", "10.00")
	_, err := c.Settle(context.Background(), req)
	if err == nil {
		t.Fatal("want a fault error")
	}
	if strings.Contains(err.Error(), pan) {
		t.Errorf("error leaks the PAN through the fault code: %v", err)
	}
}

// MaskPANs masked only an unbroken run of digits, so a Fault that echoed
// the account number as card numbers are printed (groups of four split by
// spaces or dashes) put all of its digits into the error the handler logs
// and parks with.
func TestFaultEchoingAGroupedPANIsMasked(t *testing.T) {
	for _, echoed := range []string{"4400 0000 0000 0008", "4400-0000-0000-0008", "4111 1111 1111 1111", "4012-8888-8888-1881"} {
		base := faultServer(t, http.StatusBadRequest, "ValidationFailed", "card "+echoed+" failed the issuer check")
		c := newClient(t, base, apiKey)
		req := request("rev21-grp-1", "ORD-GRP-1", messages.SettlementDebit, "10.00", "10.00")
		_, err := c.Settle(context.Background(), req)
		if err == nil {
			t.Fatal("want a fault error")
		}
		digits := strings.NewReplacer(" ", "", "-", "").Replace(err.Error() + " " + providers.ReasonOf(err))
		if plain := strings.NewReplacer(" ", "", "-", "").Replace(echoed); strings.Contains(digits, plain[:10]) {
			t.Errorf("%q: error leaks the card number: %v", echoed, err)
		}
	}
}

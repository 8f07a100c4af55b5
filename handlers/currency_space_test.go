package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/radial"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestRadialCurrencyCodeWithWhiteSpaceIsUSD: currencyCode=" USD " is USD
// for Radial's schema (ISOCurrencyCodeType restricts xsd:NMTOKEN: its
// white space is collapsed), and the worker parked such a request ("must
// be an active 3-letter ISO 4217 currency code"): a debit the schema
// accepts never captured. It is settled as USD: Radial's ledger holds one
// capture of 100.00 USD and the worker recorded USD; a request refused for
// another reason is answered with an R whose document is valid (xmllint)
// and says USD.
func TestRadialCurrencyCodeWithWhiteSpaceIsUSD(t *testing.T) {
	padded := func(body []byte) []byte {
		return []byte(strings.ReplaceAll(string(body), `currencyCode="USD"`, `currencyCode=" USD "`))
	}
	t.Run("settled", func(t *testing.T) {
		r := newRadialRig(t)
		if _, err := r.sb.Authorize(sandbox.Authorization{StoreID: "STORE1", OrderID: "ORD-EQ", Amount: "150.00", Currency: "USD"}); err != nil {
			t.Fatal(err)
		}
		if err := r.h.HandleSafely(radialMsg(padded(radialBody("req-ws", "100.00", "6.00")), map[string]string{HeaderOriginalAuthAmount: "150.00"})); err != nil {
			t.Fatal(err)
		}
		for _, m := range r.pub.take() {
			if strings.HasPrefix(m.key, broker.ParkedQueue("radial")) {
				t.Fatalf("parked: %s", m.msg.Metadata.Get(HeaderParkedReason))
			}
		}
		if ledger := r.sb.Ledger(); len(ledger) != 1 || ledger[0].Amount != "100.00" || ledger[0].Currency != "USD" {
			t.Fatalf("Radial's ledger: %+v, want one capture of 100.00 USD", ledger)
		}
		s, err := r.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-ws"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Currency != "USD" {
			t.Errorf("recorded currency %q, want USD", s.Currency)
		}
	})
	t.Run("refused for another reason", func(t *testing.T) {
		r := newRadialRig(t)
		body := strings.Replace(string(padded(radialBody("req-ws", "100.00", "6.00"))), "<InvoiceId>inv-1</InvoiceId>", "", 1)
		if err := r.h.HandleSafely(radialMsg([]byte(body), map[string]string{HeaderOriginalAuthAmount: "150.00"})); err != nil {
			t.Fatal(err)
		}
		st := checkStatusBody(t, only(t, r.pub.take(), statusQ).Payload)
		if st.SettlementStatus != messages.StatusRejected || st.Amount.CurrencyCode != "USD" {
			t.Errorf("status %s in %q, want R in USD", st.SettlementStatus, st.Amount.CurrencyCode)
		}
		if n := len(r.sb.Ledger()); n != 0 {
			t.Errorf("Radial's ledger has %d entries, want none", n)
		}
	})
}

package intake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

// TestOriginalAuthorizationAmountsNoAmountCarries: the original
// authorization amount is what the worker sends as the Amount of a
// ConfirmFundsRequest, a Radial Amount like the request's own. The intakes
// checked it for whole minor units only, so an amount the request's Amount
// rule refuses — a third decimal (10.005 KWD is whole fils, but a Radial
// Amount carries two decimals) or more digits than every XML Schema
// processor reads (19 digits still fit int64 minor units) — was answered
// 200 and published, and the worker refused it later (a status R the
// caller must correlate) where a clear 400 or error event was possible.
// Both intakes now check it with the rule of a request's Amount
// (messages.Amount.Check); what that rule accepts stays accepted.
func TestOriginalAuthorizationAmountsNoAmountCarries(t *testing.T) {
	cfg := testConfig()
	cfg.RetailOPS.Channels["40"] = Channel{Provider: "radial", StoreID: "KW-STORE", TenderType: "VC", Currency: "KWD"}
	e := newEnv(t, envOptions{topology: true, cfg: &cfg})

	kwd := func(id string) messages.PaymentSettlementRequest {
		r := validRequest(id)
		r.Amount = messages.Amount{CurrencyCode: "KWD", Value: "10.00"}
		r.TaxAmount = &messages.Amount{CurrencyCode: "KWD", Value: "0.00"}
		return r
	}
	radial := []struct {
		name    string
		req     messages.PaymentSettlementRequest
		auth    string
		refused bool
	}{
		{"third decimal in KWD", kwd("au-kwd-1"), "10.005", true},
		{"19 digits in USD", validRequest("au-usd-19"), "12345678901234567.89", true},
		{"exponent", validRequest("au-usd-e"), "1.2e2", true},
		{"KWD, trailing zero", kwd("au-kwd-ok"), "10.000", false},
		{"USD, 18 digits", validRequest("au-usd-18"), "1234567890123456.78", false},
	}
	for _, tt := range radial {
		t.Run("radial: "+tt.name, func(t *testing.T) {
			resp, body := e.post(radialPath, "application/xml", encode(t, tt.req), with(radialAuth, HeaderOriginalAuthAmount, tt.auth))
			if !tt.refused {
				checkAck(t, resp, body)
				if ds := e.requests("radial", 5*time.Second); len(ds) != 1 || header(ds[0], headerOriginalAuthAmount) != tt.auth {
					t.Fatalf("published %d, want 1 with the authorization amount %q", len(ds), tt.auth)
				}
				return
			}
			f := checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
			if !strings.Contains(f.Description, "authorization amount") || !strings.Contains(f.Description, tt.auth) {
				t.Errorf("fault %q does not name the authorization amount %s", f.Description, tt.auth)
			}
			if ds := e.requests("radial", 300*time.Millisecond); len(ds) != 0 {
				t.Fatalf("refused request published %d", len(ds))
			}
		})
	}

	retailops := []struct {
		name, channel, available, authed string
		refused                          bool
	}{
		{"third decimal in KWD", "40", "10", "10.005", true},
		{"19 digits in USD", "21", "35", "12345678901234567.89", true},
		{"KWD, trailing zero", "40", "10", "10.000", false},
	}
	for _, tt := range retailops {
		t.Run("retailops: "+tt.name, func(t *testing.T) {
			body := edit(t, seed(t), func(m map[string]any) {
				obj(m, "data", "channel")["id"] = json.Number(tt.channel)
				a := obj(m, "data", "order", "payment_status")["by_account"].([]any)[0].(map[string]any)
				a["available"], a["charged"], a["captured"] = json.Number(tt.available), json.Number(tt.available), json.Number("0")
				a["authed"] = json.Number(tt.authed)
			})
			resp, out := e.post(ordersPath, "application/json", body, bearer)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			ev := decodeEvents(t, out)
			ds := e.requests("radial", 2*time.Second)
			if !tt.refused {
				if len(ev.Events) != 0 || len(ds) != 1 {
					t.Fatalf("events %+v, published %d: want the request published", ev.Events, len(ds))
				}
				return
			}
			if len(ds) != 0 {
				t.Fatalf("published %d (original_authorization_amount %q), want none", len(ds), header(ds[0], headerOriginalAuthAmount))
			}
			if len(ev.Events) != 1 || ev.Events[0].ErrorCode != ErrInvalidAmount || !strings.Contains(ev.Events[0].ErrorMessage, "authed") {
				t.Fatalf("events %+v, want one %s naming authed", ev.Events, ErrInvalidAmount)
			}
		})
	}
}

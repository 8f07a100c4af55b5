package radial_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// TestConfirmFundsAuthAmountRadialCannotCarry: an original authorization
// amount with a third decimal in a three-decimal currency (10.005 KWD) is a
// whole number of minor units, so the pipeline takes it, but Radial's wire
// format carries two decimals: the ConfirmFundsRequest built from it is a
// document Radial's schema refuses. It was sent anyway; Radial answered a
// validation Fault, which is transient, so the debit went round the retry
// queues sending the same invalid document until it was parked, instead of
// a clear answer. It must be refused (permanent) before any call.
func TestConfirmFundsAuthAmountRadialCannotCarry(t *testing.T) {
	e := newEnv(t)
	if _, err := e.sb.Authorize(sandbox.Authorization{StoreID: store, OrderID: "KWD1", Amount: "20.000", Currency: "KWD"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, amount, auth string }{
		{"third decimal", "10.00", "10.005"},
		{"third decimal, amount three places", "10.010", "10.015"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request("cf-kwd-"+tc.auth, "KWD1", messages.SettlementDebit, "10.00", "10.00")
			req.Message.Amount = messages.Amount{CurrencyCode: "KWD", Value: tc.amount}
			req.Message.TaxAmount = &messages.Amount{CurrencyCode: "KWD", Value: "0.000"}
			if err := req.Message.Validate(); err != nil {
				t.Fatalf("the request itself must be valid: %v", err)
			}
			req.Amount = money.MustParse(tc.amount, "KWD")
			req.AuthorizationAmount = money.MustParse(tc.auth, "KWD")
			before := e.sb.Calls().Confirm
			_, err := e.client.ConfirmFunds(context.Background(), req)
			after := e.sb.Calls().Confirm
			if n := after.BadRequest - before.BadRequest; n != 0 {
				t.Errorf("Radial refused %d ConfirmFundsRequest(s) the worker sent as invalid", n)
			}
			if err == nil || providers.ClassOf(err) != providers.Permanent {
				t.Fatalf("error %v (class %v), want a permanent refusal", err, providers.ClassOf(err))
			}
			if r := providers.ReasonOf(err); !strings.Contains(r, "10.005") && !strings.Contains(r, "10.015") {
				t.Fatalf("reason %q does not name the amount", r)
			}
		})
	}
}

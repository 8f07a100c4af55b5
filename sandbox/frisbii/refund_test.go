package frisbii

import (
	"net/http"
	"testing"
	"time"
)

func refundBody(invoice, key string, amt int64) map[string]any {
	b := map[string]any{"invoice": invoice}
	if key != "" {
		b["key"] = key
	}
	if amt != 0 {
		b["amount"] = amt
	}
	return b
}

func TestRefunds(t *testing.T) {
	clk := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	sb, srv := newTestSandbox(t, Config{Now: clk.Now})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	seed(t, sb, ChargeSeed{Handle: "o-auth", Amount: 10000})
	refund := func(body any) reply { return call(t, srv, http.MethodPost, "/frisbii/v1/refund", testKey, body) }
	mustCharge(t, settle(t, srv, "o-1", keyed("s1", 10000)))

	steps := []struct {
		name     string
		body     any
		status   int
		code     int
		amount   int64
		refunded int64
	}{
		{"partial refund", refundBody("o-1", "r1", 4000), 200, 0, 4000, 4000},
		{"beyond the settled amount", refundBody("o-1", "r2", 6001), 400, CodeRefundAmountTooHigh, 0, 4000},
		{"no amount refunds the rest", refundBody("o-1", "r3", 0), 200, 0, 6000, 10000},
		{"nothing left", refundBody("o-1", "r4", 1), 400, CodeRefundAmountTooHigh, 0, 10000},
		{"charge not settled", refundBody("o-auth", "r5", 1), 400, CodeInvoiceNotSettled, 0, 0},
		{"unknown charge", refundBody("nope", "r6", 1), 404, CodeInvoiceNotFound, 0, 0},
		{"no invoice", refundBody("", "r7", 1), 400, CodeInvalidRequest, 0, 0},
		{"zero amount", map[string]any{"invoice": "o-1", "amount": 0}, 400, CodeNonPositiveAmount, 0, 10000},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := refund(st.body)
			if st.code != 0 {
				mustError(t, r, st.status, st.code)
				return
			}
			rf := mustRefund(t, r)
			if rf.State != RefundRefunded || rf.Amount != st.amount || rf.Invoice != "o-1" || rf.Currency != "USD" || rf.ID == "" || rf.CreditNoteID == "" {
				t.Fatalf("refund = %+v", rf)
			}
			if c := mustCharge(t, call(t, srv, http.MethodGet, "/frisbii/v1/charge/o-1", testKey, nil)); c.RefundedAmount != st.refunded {
				t.Fatalf("refunded_amount %d, want %d", c.RefundedAmount, st.refunded)
			}
		})
	}

	t.Run("same key replays, other content conflicts", func(t *testing.T) {
		first := sb.LedgerFiltered(LedgerFilter{Key: "r1"})[0]
		rf := mustRefund(t, refund(refundBody("o-1", "r1", 4000)))
		if rf.ID != first.RefundID {
			t.Fatalf("replay created refund %s, want %s", rf.ID, first.RefundID)
		}
		mustError(t, refund(refundBody("o-1", "r1", 3999)), 400, CodeInvalidRequest)
		if es := sb.LedgerFiltered(LedgerFilter{Kind: EntryRefund}); len(es) != 2 || es[0].Replays != 1 {
			t.Fatalf("ledger = %+v", es)
		}
	})

	t.Run("processing refund completes later", func(t *testing.T) {
		seed(t, sb, ChargeSeed{Handle: "o-async", Amount: 5000, State: StateSettled, Refund: &RefundScript{State: RefundProcessing, ProcessingMS: 1000}})
		rf := mustRefund(t, refund(refundBody("o-async", "a1", 5000)))
		if rf.State != RefundProcessing {
			t.Fatalf("refund = %+v", rf)
		}
		// A processing refund is reserved: nothing else can be refunded.
		mustError(t, refund(refundBody("o-async", "a2", 1)), 400, CodeRefundAmountTooHigh)
		get := func() Refund {
			return mustRefund(t, call(t, srv, http.MethodGet, "/frisbii/v1/refund/"+rf.ID, testKey, nil))
		}
		if got := get(); got.State != RefundProcessing {
			t.Fatalf("before: %+v", got)
		}
		clk.Add(time.Second)
		if got := get(); got.State != RefundRefunded || got.CreditNoteID == "" {
			t.Fatalf("after: %+v", got)
		}
		if ci, _ := sb.ChargeInfo("o-async"); ci.RefundedAmount != 5000 || ci.PendingRefunds != 0 {
			t.Fatalf("charge = %+v", ci)
		}
		mustError(t, call(t, srv, http.MethodGet, "/frisbii/v1/refund/nope", testKey, nil), 404, CodeRefundNotFound)
	})

	t.Run("scripted failures", func(t *testing.T) {
		seed(t, sb, ChargeSeed{Handle: "o-hard", Amount: 5000, State: StateSettled,
			Refund: &RefundScript{State: RefundFailed, ErrorState: ErrorStateHardDeclined, Error: "refund_declined", Count: 1}})
		rf := mustRefund(t, refund(refundBody("o-hard", "h1", 1000)))
		if rf.State != RefundFailed || rf.ErrorState != ErrorStateHardDeclined || rf.Error != "refund_declined" {
			t.Fatalf("refund = %+v", rf)
		}
		if again := mustRefund(t, refund(refundBody("o-hard", "h1", 1000))); again.ID != rf.ID || again.State != RefundFailed {
			t.Fatalf("replay = %+v", again)
		}
		if ok := mustRefund(t, refund(refundBody("o-hard", "h2", 1000))); ok.State != RefundRefunded {
			t.Fatalf("after the script: %+v", ok)
		}

		seed(t, sb, ChargeSeed{Handle: "o-proc", Amount: 5000, State: StateSettled,
			Refund: &RefundScript{State: RefundFailed, ErrorState: ErrorStateProcessingError, Count: 1}})
		rf = mustRefund(t, refund(refundBody("o-proc", "p1", 1000)))
		if rf.State != RefundFailed || rf.ErrorState != ErrorStateProcessingError {
			t.Fatalf("refund = %+v", rf)
		}
		// The key stays free: the same key is tried again.
		if ok := mustRefund(t, refund(refundBody("o-proc", "p1", 1000))); ok.State != RefundRefunded || ok.ID == rf.ID {
			t.Fatalf("retry = %+v", ok)
		}
		if ci, _ := sb.ChargeInfo("o-proc"); ci.RefundedAmount != 1000 || len(ci.Transactions) != 1 {
			t.Fatalf("charge = %+v", ci)
		}
	})
}

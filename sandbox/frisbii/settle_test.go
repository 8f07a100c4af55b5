package frisbii

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestPartialSettlesUpToAuthorized(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	steps := []struct {
		name    string
		body    any
		status  int
		code    int
		state   string
		settled int64
	}{
		{"first partial", keyed("k1", 4000), 200, 0, StateSettled, 4000},
		{"second partial", keyed("k2", 5000), 200, 0, StateSettled, 9000},
		{"beyond the authorization", keyed("k3", 1001), 400, CodeAmountTooHigh, "", 9000},
		{"no amount takes the remainder", map[string]any{"key": "k4"}, 200, 0, StateSettled, 10000},
		{"nothing left", keyed("k5", 1), 400, CodeInvoiceSettled, "", 10000},
		{"nothing left, no amount", map[string]any{}, 400, CodeInvoiceSettled, "", 10000},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := settle(t, srv, "o-1", st.body)
			if st.code != 0 {
				mustError(t, r, st.status, st.code)
			} else if c := mustCharge(t, r); c.State != st.state || c.Amount != st.settled || c.ErrorState != "" || c.Transaction == "" {
				t.Fatalf("charge = %+v", c)
			}
			if ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != st.settled || ci.RemainingAmount != 10000-st.settled {
				t.Fatalf("info = %+v", ci)
			}
		})
	}
	es := sb.LedgerFiltered(LedgerFilter{Handle: "o-1"})
	if len(es) != 3 || es[2].Amount != 1000 || es[2].Key != "k4" || es[0].State != EntrySettled {
		t.Fatalf("ledger = %+v", es)
	}
	if c := sb.Calls().Settle; c.Processed != 3 || c.ClientErrors != 3 {
		t.Fatalf("calls = %+v", c)
	}
}

func TestSettleIdempotency(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	first := mustCharge(t, settle(t, srv, "o-1", keyed("key-1", 3000)))
	// A later settle changes the charge; the replay still answers the first answer.
	mustCharge(t, settle(t, srv, "o-1", keyed("key-2", 1000)))
	again := mustCharge(t, settle(t, srv, "o-1", keyed("key-1", 3000)))
	if again.Transaction != first.Transaction || again.Amount != 3000 {
		t.Fatalf("replay = %+v, first = %+v", again, first)
	}
	mustError(t, settle(t, srv, "o-1", keyed("key-1", 3001)), http.StatusBadRequest, CodeInvalidRequest)
	es := sb.LedgerFiltered(LedgerFilter{Key: "key-1"})
	if len(es) != 1 || es[0].Replays != 1 {
		t.Fatalf("ledger = %+v", es)
	}
	if ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != 4000 {
		t.Fatalf("settled %d, want 4000", ci.SettledAmount)
	}
	if c := sb.Calls().Settle; c.Replays != 1 || c.Conflicts != 1 || c.Processed != 2 {
		t.Fatalf("calls = %+v", c)
	}

	t.Run("without a key a repeat settles again", func(t *testing.T) {
		mustCharge(t, settle(t, srv, "o-1", amount(100)))
		mustCharge(t, settle(t, srv, "o-1", amount(100)))
		if ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != 4200 {
			t.Fatalf("settled %d, want 4200", ci.SettledAmount)
		}
	})
}

func TestSettleValidation(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	seed(t, sb, ChargeSeed{Handle: "o-cancelled", Amount: 10000, State: StateCancelled})
	seed(t, sb, ChargeSeed{Handle: "o-failed", Amount: 10000, State: StateFailed})
	seed(t, sb, ChargeSeed{Handle: "o-pending", Amount: 10000, State: StatePending})
	line := func(text string, amt any, qty any) map[string]any {
		return map[string]any{"ordertext": text, "amount": amt, "quantity": qty}
	}
	tests := []struct {
		name, handle string
		body         any
		status, code int
		msg          string
	}{
		{"amount and order lines", "o-1", map[string]any{"amount": 10, "order_lines": []any{line("a", 10, 1)}}, 400, CodeInvalidRequest, "not both"},
		{"fractional amount", "o-1", `{"amount": 12.5}`, 400, CodeInvalidRequest, "integer"},
		{"exponent amount", "o-1", `{"amount": 1e3}`, 400, CodeInvalidRequest, "integer"},
		{"negative amount", "o-1", amount(-1), 400, CodeInvalidRequest, "integer"},
		{"beyond int32", "o-1", amount(2147483648), 400, CodeInvalidRequest, "2147483647"},
		{"zero amount", "o-1", amount(0), 400, CodeNonPositiveAmount, ""},
		{"acquirer reference of 129", "o-1", map[string]any{"amount": 1, "acquirer_reference": strings.Repeat("a", 129)}, 400, CodeInvalidRequest, "128"},
		{"acquirer reference non-ASCII", "o-1", map[string]any{"amount": 1, "acquirer_reference": "Café"}, 400, CodeInvalidRequest, `[\x20-\x7F]`},
		{"acquirer reference control character", "o-1", map[string]any{"amount": 1, "acquirer_reference": "a\tb"}, 400, CodeInvalidRequest, `[\x20-\x7F]`},
		{"order line without text", "o-1", map[string]any{"order_lines": []any{line("", 10, 1)}}, 400, CodeInvalidRequest, "ordertext"},
		{"order line quantity zero", "o-1", map[string]any{"order_lines": []any{line("a", 10, 0)}}, 400, CodeInvalidRequest, "quantity"},
		{"order line fractional quantity", "o-1", map[string]any{"order_lines": []any{line("a", 10, 1.5)}}, 400, CodeInvalidRequest, "quantity"},
		{"order lines total zero", "o-1", map[string]any{"order_lines": []any{line("a", 0, 1)}}, 400, CodeNonPositiveAmount, ""},
		{"not JSON", "o-1", "{", 400, CodeInvalidRequest, "JSON"},
		{"manual settle", "o-1", map[string]any{"manual_settle": map[string]any{"method": "cash"}}, 400, CodeInvalidRequest, "manual_settle"},
		{"unknown charge", "nope", amount(1), 404, CodeInvoiceNotFound, ""},
		{"cancelled charge", "o-cancelled", amount(1), 400, CodeInvoiceCancelled, ""},
		{"failed charge", "o-failed", amount(1), 400, CodeMustBeAuthorized, "failed"},
		{"pending charge", "o-pending", amount(1), 400, CodeMustBeAuthorized, "pending"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustError(t, settle(t, srv, tc.handle, tc.body), tc.status, tc.code)
			if !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("message %q does not contain %q", e.Message, tc.msg)
			}
		})
	}
	if len(sb.Ledger()) != 0 {
		t.Fatalf("ledger = %+v", sb.Ledger())
	}
	t.Run("content type", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/frisbii/v1/charge/o-1/settle", strings.NewReader("amount=1"))
		req.SetBasicAuth(testKey, "")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
	})
	t.Run("valid acquirer reference", func(t *testing.T) {
		ref := strings.Repeat("~", 128)
		mustCharge(t, settle(t, srv, "o-1", map[string]any{"amount": 1, "acquirer_reference": ref}))
		if es := sb.Ledger(); len(es) != 1 || es[0].AcquirerReference != ref {
			t.Fatalf("ledger = %+v", es)
		}
	})
}

func TestSettleOrderLines(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000, OrderText: "authorized order"})
	body := map[string]any{"key": "lines-1", "order_lines": []any{
		map[string]any{"ordertext": "Shirt", "amount": 1000, "quantity": 2},
		// 500 excl. 25% VAT = 625 incl. VAT.
		map[string]any{"ordertext": "Socks", "amount": 500, "vat": 0.25, "amount_incl_vat": false},
	}}
	c := mustCharge(t, settle(t, srv, "o-1", body))
	if c.Amount != 2625 || len(c.OrderLines) != 2 || c.OrderLines[0].Amount != 2000 || c.OrderLines[0].UnitAmount != 1000 ||
		c.OrderLines[0].Quantity != 2 || c.OrderLines[1].Amount != 625 || c.OrderLines[1].Vat != json.Number("0.25") {
		t.Fatalf("charge = %+v", c)
	}
	// Subsequent settles add their order lines.
	c = mustCharge(t, settle(t, srv, "o-1", map[string]any{"order_lines": []any{map[string]any{"ordertext": "Hat", "amount": 375}}}))
	if c.Amount != 3000 || len(c.OrderLines) != 3 || c.OrderLines[2].OrderText != "Hat" {
		t.Fatalf("charge = %+v", c)
	}
	if es := sb.Ledger(); len(es) != 2 || es[0].OrderLines != 2 || es[0].Amount != 2625 {
		t.Fatalf("ledger = %+v", es)
	}
}

func TestSettleDeclines(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "hard", Amount: 10000, Decline: &Decline{ErrorState: ErrorStateHardDeclined, Error: "credit_card_expired"}})
	seed(t, sb, ChargeSeed{Handle: "soft", Amount: 10000, Decline: &Decline{ErrorState: ErrorStateSoftDeclined, Count: 1}})
	seed(t, sb, ChargeSeed{Handle: "proc", Amount: 10000, Decline: &Decline{ErrorState: ErrorStateProcessingError, Count: 1}})

	t.Run("hard decline of the first settle fails the charge", func(t *testing.T) {
		c := mustCharge(t, settle(t, srv, "hard", keyed("h1", 5000)))
		if c.State != StateFailed || c.ErrorState != ErrorStateHardDeclined || c.Error != "credit_card_expired" {
			t.Fatalf("charge = %+v", c)
		}
		if again := mustCharge(t, settle(t, srv, "hard", keyed("h1", 5000))); !sameCharge(again, c) {
			t.Fatalf("replay = %+v", again)
		}
		mustError(t, settle(t, srv, "hard", keyed("h2", 5000)), 400, CodeMustBeAuthorized)
		es := sb.LedgerFiltered(LedgerFilter{Handle: "hard"})
		if len(es) != 1 || es[0].State != EntryFailed || es[0].ErrorState != ErrorStateHardDeclined || es[0].Replays != 1 {
			t.Fatalf("ledger = %+v", es)
		}
	})
	t.Run("soft decline leaves the charge authorized", func(t *testing.T) {
		c := mustCharge(t, settle(t, srv, "soft", keyed("s1", 5000)))
		if c.State != StateAuthorized || c.ErrorState != ErrorStateSoftDeclined || c.Error != "insufficient_funds" {
			t.Fatalf("charge = %+v", c)
		}
		if c := mustCharge(t, settle(t, srv, "soft", keyed("s2", 5000))); c.State != StateSettled || c.ErrorState != "" || c.Amount != 5000 {
			t.Fatalf("new key after the decline: %+v", c)
		}
	})
	t.Run("processing error keeps the key free", func(t *testing.T) {
		c := mustCharge(t, settle(t, srv, "proc", keyed("p1", 5000)))
		if c.State != StateAuthorized || c.ErrorState != ErrorStateProcessingError {
			t.Fatalf("charge = %+v", c)
		}
		if len(sb.LedgerFiltered(LedgerFilter{Handle: "proc"})) != 0 {
			t.Fatal("a processing error left a ledger entry")
		}
		if c := mustCharge(t, settle(t, srv, "proc", keyed("p1", 5000))); c.State != StateSettled || c.ErrorState != "" {
			t.Fatalf("retry with the same key: %+v", c)
		}
	})
	t.Run("hard decline of a later settle keeps the charge settled", func(t *testing.T) {
		seed(t, sb, ChargeSeed{Handle: "later", Amount: 10000, State: StateSettled, SettledAmount: 2000,
			Decline: &Decline{ErrorState: ErrorStateHardDeclined}})
		c := mustCharge(t, settle(t, srv, "later", keyed("l1", 1000)))
		if c.State != StateSettled || c.ErrorState != ErrorStateHardDeclined || c.Amount != 2000 {
			t.Fatalf("charge = %+v", c)
		}
	})
	if c := sb.Calls().Settle; c.Declined != 5 || c.Replays != 1 {
		t.Fatalf("calls = %+v", c)
	}
}

// sameCharge compares two charge answers.
func sameCharge(a, b Charge) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestConcurrentSettlesNeverExceedTheAuthorization(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	done := make(chan int, 10)
	for i := range 10 {
		go func() {
			r, err := tryCall(srv, http.MethodPost, "/frisbii/v1/charge/o-1/settle", testKey, keyed(fmt.Sprintf("c%d", i), 1500))
			if err != nil {
				done <- 0
				return
			}
			done <- r.status
		}()
	}
	ok := 0
	for range 10 {
		switch <-done {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
		default:
			t.Fatal("unexpected answer")
		}
	}
	if ci, _ := sb.ChargeInfo("o-1"); ok != 6 || ci.SettledAmount != 9000 {
		t.Fatalf("%d settled, settled amount %d; want 6 and 9000", ok, ci.SettledAmount)
	}
}

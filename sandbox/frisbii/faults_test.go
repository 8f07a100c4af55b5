package frisbii

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{RandSeed: 7})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})

	t.Run("fail_next answers an error body and acts on nothing", func(t *testing.T) {
		if err := sb.SetFaults(EndpointSettle, Faults{FailNext: 1, FailStatus: 500}); err != nil {
			t.Fatal(err)
		}
		mustError(t, settle(t, srv, "o-1", keyed("f1", 1000)), 500, CodeInternalError)
		if err := sb.SetFaults(EndpointSettle, Faults{FailNext: 1}); err != nil {
			t.Fatal(err)
		}
		mustError(t, settle(t, srv, "o-1", keyed("f1", 1000)), 503, CodeInternalError)
		if len(sb.Ledger()) != 0 {
			t.Fatal("a failed call moved money")
		}
		mustCharge(t, settle(t, srv, "o-1", keyed("f1", 1000)))
	})

	t.Run("drop_next acts, answers 502, and the same key replays", func(t *testing.T) {
		if err := sb.SetFaults(EndpointSettle, Faults{DropNext: 1}); err != nil {
			t.Fatal(err)
		}
		if r := settle(t, srv, "o-1", keyed("d1", 2000)); r.status != http.StatusBadGateway {
			t.Fatalf("HTTP %d", r.status)
		}
		if es := sb.LedgerFiltered(LedgerFilter{Key: "d1"}); len(es) != 1 || !es[0].ReplyDropped || es[0].State != EntrySettled {
			t.Fatalf("ledger = %+v", es)
		}
		if c := mustCharge(t, settle(t, srv, "o-1", keyed("d1", 2000))); c.Amount != 3000 {
			t.Fatalf("replay = %+v", c)
		}
		if ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != 3000 {
			t.Fatalf("settled %d, want 3000 (no second settle)", ci.SettledAmount)
		}
	})

	t.Run("hang_next holds until the client gives up", func(t *testing.T) {
		if err := sb.SetFaults(EndpointCharge, Faults{HangNext: 1}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/frisbii/v1/charge/o-1", nil)
		req.SetBasicAuth(testKey, "")
		if resp, err := srv.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("answered HTTP %d", resp.StatusCode)
		}
		mustCharge(t, call(t, srv, http.MethodGet, "/frisbii/v1/charge/o-1", testKey, nil))
	})

	t.Run("latency and fail_per_mille", func(t *testing.T) {
		if err := sb.SetFaults(EndpointAll, Faults{LatencyMS: 30, FailPerMille: 1000}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		mustError(t, call(t, srv, http.MethodGet, "/frisbii/v1/refund/x", testKey, nil), 503, CodeInternalError)
		if time.Since(start) < 30*time.Millisecond {
			t.Fatal("no latency")
		}
		if f := sb.Faults(); f.Charge.FailPerMille != 1000 || f.RefundGet.LatencyMS != 30 {
			t.Fatalf("faults = %+v", f)
		}
		if err := sb.SetFaults(EndpointAll, Faults{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("invalid knobs", func(t *testing.T) {
		for _, f := range []Faults{{FailStatus: 404}, {FailPerMille: 1001}, {DropNext: -1}} {
			if err := sb.SetFaults(EndpointSettle, f); err == nil {
				t.Fatalf("%+v accepted", f)
			}
		}
		if err := sb.SetFaults("nowhere", Faults{}); err == nil {
			t.Fatal("unknown endpoint accepted")
		}
	})

	c := sb.Calls()
	if c.Settle.Failed5xx != 2 || c.Settle.Dropped != 1 || c.Settle.Replays != 1 || c.Charge.Hung != 1 || c.RefundGet.Failed5xx != 1 {
		t.Fatalf("calls = %+v", c)
	}
}

package frisbii

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestLateCommit: a late commit reads the request, waits whether or not the
// client stays, then acts; the same key in flight answers 409 (error 74);
// a repeat after the commit replays it. Knobs travel through the admin API.
func TestLateCommit(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{RandSeed: 7})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	ac, err := NewAdminClient(srv.URL+"/frisbii", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := ac.SetFaults(ctx, EndpointSettle, Faults{LateNext: 1, LateMS: 400})
	if err != nil || st.Settle.LateNext != 1 || st.Settle.LateMS != 400 {
		t.Fatalf("SetFaults = %+v, %v", st, err)
	}

	// The client gives up after 50ms: the request context is cancelled.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	b, _ := json.Marshal(keyed("late-1", 4000))
	req, _ := http.NewRequestWithContext(cctx, http.MethodPost, srv.URL+"/frisbii/v1/charge/o-1/settle", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testKey, "")
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered HTTP %d before the late commit", resp.StatusCode)
	}

	// In flight: the same key is answered 409, error 74, without acting.
	mustError(t, settle(t, srv, "o-1", keyed("late-1", 4000)), http.StatusConflict, CodeConcurrentUpdate)
	if ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != 0 {
		t.Fatalf("settled %d while in flight", ci.SettledAmount)
	}
	// Another key is not blocked.
	mustCharge(t, settle(t, srv, "o-1", keyed("other", 1000)))

	deadline := time.Now().Add(3 * time.Second)
	for ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != 5000; ci, _ = sb.ChargeInfo("o-1") {
		if time.Now().After(deadline) {
			t.Fatalf("late commit never acted: settled %d", ci.SettledAmount)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// After the commit: the repeat replays, no second settle.
	mustCharge(t, settle(t, srv, "o-1", keyed("late-1", 4000)))
	if ci, _ := sb.ChargeInfo("o-1"); ci.SettledAmount != 5000 {
		t.Fatalf("settled %d, want 5000", ci.SettledAmount)
	}
	c, err := ac.Calls(ctx)
	if err != nil || c.Settle.Late != 1 || c.Settle.InFlight != 1 || c.Settle.Replays != 1 || c.Settle.Processed != 2 {
		t.Fatalf("calls = %+v, %v", c.Settle, err)
	}

	for _, f := range []Faults{{LatePerMille: 600, HangPerMille: 300, DropPerMille: 200}, {LateMS: -1}, {LateNext: -1}} {
		if err := sb.SetFaults(EndpointSettle, f); err == nil {
			t.Fatalf("%+v accepted", f)
		}
	}
	if err := sb.SetFaults(EndpointAll, Faults{LatePerMille: 1, HangPerMille: 1, DropPerMille: 1}); err != nil {
		t.Fatal(err)
	}
	if f := sb.Faults(); f.Refund.DropPerMille != 1 || f.Charge.HangPerMille != 1 {
		t.Fatalf("faults = %+v", f)
	}
}

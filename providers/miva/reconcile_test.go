package miva_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestDebitRecovery follows the pipeline: ConfirmFunds (refs recorded),
// Settle fails in a way that may or may not have captured, the retry calls
// Reconcile first and Settle only when Reconcile found nothing.
func TestDebitRecovery(t *testing.T) {
	tests := []struct {
		name   string
		faults sandbox.Faults
		found  bool
	}{
		{"reply lost after the capture (drop_next): found, never captured twice", sandbox.Faults{DropNext: 1}, true},
		{"503 before acting: nothing happened, Settle runs", sandbox.Faults{FailNext: 1}, false},
		{"gateway error before acting: nothing happened", sandbox.Faults{ErrorNext: 1}, false},
		{"timeout before acting: nothing happened", sandbox.Faults{HangNext: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, seedExample)
			req := confirmed(t, e, debit("200102", "1.00"))
			if err := e.sb.SetFaults(sandbox.EndpointCapture, tc.faults); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.Settle(context.Background(), req); providers.ClassOf(err) != providers.Transient || err == nil {
				t.Fatalf("Settle: %v", err)
			}
			out, found, err := e.client.Reconcile(context.Background(), req)
			if err != nil || found != tc.found {
				t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
			}
			if !found {
				if out, err = e.client.Settle(context.Background(), req); err != nil || out.Kind != providers.Settled {
					t.Fatalf("Settle after Reconcile: %+v, %v", out, err)
				}
			}
			cs := captures(e)
			if len(cs) != 1 || e.sb.Calls().Capture.Processed != 1 {
				t.Fatalf("captures %+v", cs)
			}
			if out.Kind != providers.Settled || mustID(out.Ref) != cs[0].RecordID || out.Refs[miva.RefCaptureID] != out.Ref {
				t.Fatalf("outcome %+v, capture %+v", out, cs[0])
			}
			if found && out.Refs[miva.RefReconciledBy] != "new_record" {
				t.Fatalf("refs %+v", out.Refs)
			}
			// A second reconciliation still finds the one capture.
			if _, found, err := e.client.Reconcile(context.Background(), req); !found || err != nil {
				t.Fatalf("second Reconcile: %v %v", found, err)
			}
		})
	}
}

func TestReconcileDebitEvidence(t *testing.T) {
	refs := map[string]string{miva.RefPaymentID: "4", miva.RefAvailableBefore: "1.0", miva.RefRecordsBefore: "2,4"}
	tests := []struct {
		name   string
		seed   sandbox.OrderSeed
		refs   map[string]string
		amount string
		found  bool
		by     string
		ref    string
		errMsg string
	}{
		{"nothing happened", seedExample, refs, "1.00", false, "", "", ""},
		{"a capture of another amount is not this one", withRecords(seedExample, "0.40", sandbox.RecordSeed{ID: 5, Type: sandbox.TypeCapture, Amount: "0.60", ParentID: 4}),
			refs, "1.00", false, "", "", ""},
		{"a capture already in the baseline is not this one", withRecords(seedExample, "0", sandbox.RecordSeed{ID: 5, Type: sandbox.TypeCapture, Amount: "1.00", ParentID: 4}),
			map[string]string{miva.RefPaymentID: "4", miva.RefAvailableBefore: "0", miva.RefRecordsBefore: "2,4,5"}, "1.00", false, "", "", ""},
		{"new capture record of the amount", withRecords(seedExample, "0", sandbox.RecordSeed{ID: 5, Type: sandbox.TypeCapture, Amount: "1.00", ParentID: 4}),
			refs, "1.00", true, "new_record", "5", ""},
		{"available fell by the amount without a record: no record to name, unresolved", withRecords(seedExample, "0"), refs, "1.00", false, "", "", "order 200102 is ambiguous"},
		{"two unclaimed new capture records of the amount: unresolved", withRecords(seedExample, "0",
			sandbox.RecordSeed{ID: 5, Type: sandbox.TypeCapture, Amount: "0.50", ParentID: 4}, sandbox.RecordSeed{ID: 6, Type: sandbox.TypeCapture, Amount: "0.50", ParentID: 4}),
			refs, "0.50", false, "", "", "records 5, 6"},
		{"available fell because of a void", withRecords(seedExample, "0", sandbox.RecordSeed{ID: 5, Type: sandbox.TypeVoid, Amount: "1.00", ParentID: 4}),
			refs, "1.00", false, "", "", ""},
		{"no baseline and no capture of the amount", seedExample, map[string]string{}, "1.00", false, "", "", ""},
		{"no baseline and a capture of the amount: ambiguous, parked", withRecords(seedExample, "0", sandbox.RecordSeed{ID: 5, Type: sandbox.TypeCapture, Amount: "1.00", ParentID: 4}),
			map[string]string{}, "1.00", false, "", "", "capture record(s) 5 of 1.00 USD"},
		{"the only new capture record is claimed by another settlement: not this one", withRecords(seedExample, "0.50",
			sandbox.RecordSeed{ID: 5, Type: sandbox.TypeCapture, Amount: "0.50", ParentID: 4}), refs, "0.50", false, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, tc.seed)
			req := debit("200102", tc.amount)
			req.Refs = tc.refs
			if strings.Contains(tc.name, "claimed by another") {
				req.Claimed = []string{"5"}
			}
			out, found, err := e.client.Reconcile(context.Background(), req)
			if tc.errMsg != "" {
				checkErr(t, err, providers.Unresolved, "", tc.errMsg)
				return
			}
			if err != nil || found != tc.found {
				t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
			}
			if found && (out.Kind != providers.Settled || out.Refs[miva.RefReconciledBy] != tc.by || out.Ref != tc.ref) {
				t.Fatalf("outcome %+v", out)
			}
			if len(e.sb.Ledger()) != 0 {
				t.Fatal("Reconcile moved money")
			}
		})
	}
}

// withRecords returns the seed's example with record 4's available set and
// records appended.
func withRecords(o sandbox.OrderSeed, available4 string, rs ...sandbox.RecordSeed) sandbox.OrderSeed {
	c := o
	c.Records = append([]sandbox.RecordSeed(nil), o.Records...)
	c.Records[1].Available = available4
	c.Records = append(c.Records, rs...)
	return c
}

func TestSettleCreditContract(t *testing.T) {
	orders := []sandbox.OrderSeed{
		{OrderID: 900, Records: []sandbox.RecordSeed{
			{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "10.00"},
			{ID: 91, Type: sandbox.TypeCapture, Amount: "20.00", ParentID: 90},
			{ID: 92, Type: sandbox.TypeCapture, Amount: "20.00", ParentID: 90},
		}},
		{OrderID: 901, Records: []sandbox.RecordSeed{{ID: 93, Type: sandbox.TypeAuthCapture, Amount: "30.00"}}},
		{OrderID: 902, Records: []sandbox.RecordSeed{
			{ID: 94, Type: sandbox.TypeAuth, Amount: "10.00", Available: "0"},
			{ID: 95, Type: sandbox.TypeCapture, Amount: "10.00", ParentID: 94, DeclineRefund: "Refund declined by the gateway."},
		}},
		{OrderID: 903, Currency: "JPY", Records: []sandbox.RecordSeed{
			{ID: 96, Type: sandbox.TypeAuth, Amount: "3000", Available: "0"},
			{ID: 97, Type: sandbox.TypeCapture, Amount: "3000", ParentID: 96},
		}},
	}
	header := func(r *providers.Request, id string) *providers.Request {
		r.Headers[miva.HeaderPaymentID] = id
		return r
	}
	tests := []struct {
		name    string
		req     *providers.Request
		kind    providers.Kind
		reason  string
		target  int64
		refunds int
	}{
		{"refund of a capture", credit("900", "15.00"), providers.Settled, "", 91, 1},
		{"refund of a type 5 sale", credit("901", "30.00"), providers.Settled, "", 93, 1},
		{"header names the capture", header(credit("900", "5.00"), "92"), providers.Settled, "", 92, 1},
		{"JPY", request("jp-c", "903", "Credit", "1200", "JPY"), providers.Settled, "", 97, 1},
		{"more than captured", credit("900", "40.01"), providers.Refused, "exceeds what Miva order 900 has captured and not refunded (40.00 USD)", 0, 0},
		{"no single capture covers it", credit("900", "25.00"), providers.Refused, "no single Miva capture record on order 900 covers a refund of 25.00 USD", 0, 0},
		{"header names an authorization", header(credit("900", "5.00"), "90"), providers.Refused, "record 90 (authorization) is not a capture", 0, 0},
		{"gateway decline", credit("902", "10.00"), providers.Refused, "Refund declined by the gateway.", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, orders...)
			out, err := e.clientFor(t, tc.req).Settle(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if out.Kind != tc.kind || !strings.Contains(out.Reason, tc.reason) {
				t.Fatalf("outcome %+v, want %s %q", out, tc.kind, tc.reason)
			}
			rs := refunds(e)
			if len(rs) != tc.refunds {
				t.Fatalf("refunds %+v", rs)
			}
			if tc.refunds == 1 && (rs[0].PaymentID != tc.target || rs[0].Type != sandbox.TypeRefund || mustID(out.Ref) != rs[0].RecordID || out.Refs[miva.RefRefundID] != out.Ref) {
				t.Fatalf("refund %+v, outcome %+v", rs[0], out)
			}
		})
	}
}

func TestCreditRecovery(t *testing.T) {
	order := sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}}

	t.Run("nothing refunded yet: Settle may run", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, order)
		if _, found, err := e.client.Reconcile(context.Background(), credit("900", "10.00")); found || err != nil {
			t.Fatalf("%v %v", found, err)
		}
	})

	t.Run("lost reply without a baseline: ambiguous, parked, never refunded twice", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, order)
		req := credit("900", "10.00")
		if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{DropNext: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Settle(context.Background(), req); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("Settle: %v", err)
		}
		_, found, err := e.client.Reconcile(context.Background(), req)
		if found {
			t.Fatal("found without a baseline")
		}
		checkErr(t, err, providers.Unresolved, "", "already has refund record(s) 92 of 10.00 USD")
		if len(refunds(e)) != 1 {
			t.Fatal("refunded twice")
		}
	})

	t.Run("lost reply with Prepare's baseline: found", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, order)
		req := credit("900", "10.00")
		refs, err := e.client.Prepare(context.Background(), req)
		if err != nil || refs[miva.RefRecordsBefore] != "90,91" || refs[miva.RefPaymentID] != "91" {
			t.Fatalf("Prepare = %v, %v", refs, err)
		}
		req.Refs = refs
		if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{DropNext: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Settle(context.Background(), req); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("Settle: %v", err)
		}
		out, found, err := e.client.Reconcile(context.Background(), req)
		if err != nil || !found || out.Kind != providers.Settled || out.Ref != "92" || out.Refs[miva.RefRefundID] != "92" {
			t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
		}
		if len(refunds(e)) != 1 {
			t.Fatal("refunded twice")
		}
		// With the baseline, an older refund of the same amount is not
		// mistaken for this one.
		next := credit("900", "10.00")
		next.Refs, _ = e.client.Prepare(context.Background(), next)
		if _, found, err := e.client.Reconcile(context.Background(), next); found || err != nil {
			t.Fatalf("older refund taken for this one: %v %v", found, err)
		}
		if refs, _ := e.client.Prepare(context.Background(), debit("900", "1.00")); refs != nil {
			t.Fatalf("Prepare of a debit: %v", refs)
		}
	})
}

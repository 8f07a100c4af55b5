package miva_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestReconcileReasonOfManyRecordsIsBounded: Reconcile's "order N is
// ambiguous" reasons named every candidate record ("records 2, 3, …, 20001
// are all new unclaimed captures", "already has refund record(s) …") and
// every record claimed by other settlements: an order of 20,000 payment
// records made a parked reason of about 150 KB, stored, logged at every
// attempt and shown to the person who must decide. The reason now names
// the first records and counts the rest.
func TestReconcileReasonOfManyRecordsIsBounded(t *testing.T) {
	const n = 20000
	list := func(typ int) string {
		var b strings.Builder
		b.WriteString(`{"success":1,"data":[{"id":1,"order_id":1001,"type":3,"amount":500000.00,"available":0}`)
		for i := 2; i <= n+1; i++ {
			fmt.Fprintf(&b, `,{"id":%d,"order_id":1001,"type":%d,"amount":10.00,"available":0}`, i, typ)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	var claimed []string
	for i := n + 2; i < 2*n+2; i++ { // other settlements' records (of other orders' lists: not on this one)
		claimed = append(claimed, strconv.Itoa(i))
	}
	tests := []struct {
		name string
		body string
		req  func() *providers.Request
	}{
		{"debit: several new unclaimed captures", list(4), func() *providers.Request {
			r := debit("1001", "10.00")
			r.Refs = map[string]string{miva.RefOrderID: "1001", miva.RefPaymentID: "1", miva.RefAvailableBefore: "500000.00", miva.RefRecordsBefore: "1"}
			return r
		}},
		{"credit without a baseline: unclaimed refunds", list(6), func() *providers.Request { return credit("1001", "10.00") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := tc.req()
			req.Claimed = claimed
			_, found, err := newClient(t, srv.URL, token, "").Reconcile(ctx, req)
			checkErr(t, err, providers.Unresolved, "", "is ambiguous")
			if found {
				t.Fatal("found")
			}
			reason := providers.ReasonOf(err)
			if !strings.Contains(reason, "2, 3") || !strings.Contains(reason, fmt.Sprintf("%d more", n-10)) {
				t.Errorf("reason %.400q… does not name the first records and count the rest", reason)
			}
			if len(reason) > 2000 {
				t.Errorf("reason of %d bytes", len(reason))
			}
		})
	}
}

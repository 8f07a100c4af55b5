package miva_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReasonOfALongPaymentListIsBounded: ConfirmFunds refusing a debit
// named every authorization of the order in its reason ("authorizations:
// record 1 (authorization) 0.01 USD available, ..."): an order of 20,000
// records (a 3 MiB list, under the 4 MiB read) made an R whose
// DeclineReason of about a MiB was stored, published, POSTed to the
// webhook and logged. The reason now names the first records and counts
// the rest.
func TestReasonOfALongPaymentListIsBounded(t *testing.T) {
	var list strings.Builder
	list.WriteString(`{"success":1,"data":[`)
	const n = 20000
	for i := 1; i <= n; i++ {
		if i > 1 {
			list.WriteByte(',')
		}
		fmt.Fprintf(&list, `{"id":%d,"order_id":1001,"type":3,"amount":0.01,"available":0.01}`, i)
	}
	list.WriteString(`]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, list.String())
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := newClient(t, srv.URL, token, "").ConfirmFunds(ctx, debit("1001", "10.00"))
	if err != nil || res.Available {
		t.Fatalf("ConfirmFunds = %+v, %v, want not available", res, err)
	}
	if !strings.Contains(res.Reason, "record 1 (authorization) 0.01 USD available") || !strings.Contains(res.Reason, fmt.Sprintf("%d more", n-10)) {
		t.Errorf("reason %.300q… does not name the first records and count the rest", res.Reason)
	}
	if len(res.Reason) > 2000 {
		t.Errorf("reason of %d bytes", len(res.Reason))
	}
}

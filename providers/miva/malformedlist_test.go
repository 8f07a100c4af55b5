package miva_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestMalformedPaymentListIsNoEvidence: an OrderPaymentList_Load answer
// {"success":1,"data":null} decoded as an empty list, so ConfirmFunds
// answered "funds not available" (the debit ended R), a credit was refused
// as exceeding what the order captured, Prepare recorded an empty baseline
// and Reconcile answered found=false (nothing happened: after a "not sent"
// answer the pipeline captures again). An authorization without
// "available" read as one with nothing available (R). An answer whose data
// is null, missing or not the documented list of records says nothing
// about the order's payments: a transient "malformed answer", retried and
// then parked, never an R nor found=false.
func TestMalformedPaymentListIsNoEvidence(t *testing.T) {
	bodies := []struct{ name, body string }{
		{"data null", `{"success":1,"data":null}`},
		{"data missing", `{"success":1}`},
		{"data an object", `{"success":1,"data":{}}`},
		{"data a string", `{"success":1,"data":"none"}`},
		{"a record null", `{"success":1,"data":[null]}`},
		{"an authorization without available", `{"success":1,"data":[{"id":2,"order_id":1001,"type":3,"amount":70.0}]}`},
		{"an authorization with available null", `{"success":1,"data":[{"id":2,"order_id":1001,"type":1,"amount":70.0,"available":null}]}`},
		{"a sale without available", `{"success":1,"data":[{"id":2,"order_id":1001,"type":5,"amount":70.0}]}`},
	}
	ops := []struct {
		name string
		run  func(ctx context.Context, c *miva.Client) (refused bool, err error)
	}{
		{"ConfirmFunds", func(ctx context.Context, c *miva.Client) (bool, error) {
			res, err := c.ConfirmFunds(ctx, debit("1001", "10.00"))
			return err == nil && !res.Available, err
		}},
		{"Settle credit", func(ctx context.Context, c *miva.Client) (bool, error) {
			out, err := c.Settle(ctx, credit("1001", "10.00"))
			return err == nil && out.Kind == providers.Refused, err
		}},
		{"Prepare", func(ctx context.Context, c *miva.Client) (bool, error) {
			_, err := c.Prepare(ctx, credit("1001", "10.00"))
			return false, err
		}},
		{"Reconcile debit", func(ctx context.Context, c *miva.Client) (bool, error) {
			req := debit("1001", "10.00")
			req.Refs = map[string]string{miva.RefOrderID: "1001", miva.RefPaymentID: "2", miva.RefAvailableBefore: "70.00", miva.RefRecordsBefore: "2"}
			_, found, err := c.Reconcile(ctx, req)
			return err == nil && !found, err
		}},
	}
	for _, b := range bodies {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, b.body)
		}))
		c := newClient(t, srv.URL, token, "")
		for _, op := range ops {
			t.Run(b.name+"/"+op.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				refused, err := op.run(ctx, c)
				if refused {
					t.Fatalf("%s took %s for evidence of no payment (R / found=false)", op.name, b.body)
				}
				checkErr(t, err, providers.Transient, "", "malformed answer")
				// Settle's list read comes before its refund: that call
				// was not made (NotSent). Elsewhere the answer is no
				// proof that nothing moved.
				if want := op.name == "Settle credit"; providers.WasNotSent(err) != want {
					t.Errorf("NotSent = %v, want %v (%v)", !want, want, err)
				}
			})
		}
		srv.Close()
	}
}

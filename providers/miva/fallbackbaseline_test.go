package miva_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestReconcileAfterTheFallbackWatchesTheAuthorizationUsed: a debit of
// 50.00 was confirmed against authorization 70 (the baseline recorded its
// available, 60.00); 70 expired before the capture, so Settle captured
// authorization 75 instead, and a proxy answered that capture 503 (not
// sent) although Miva committed it. Reconcile's "available fell without a
// record" check (money moved with no record to name: never found=false)
// still watched 70, whose available had not moved: with the capture record
// not shown while 75's available already fell by 50.00, it answered
// found=false, and the retry the pipeline makes then captured 50.00 again
// (two captures in the sandbox's ledger). The baseline now holds every
// authorization's available, so the check watches the one actually used.
// Once the list shows the record, Reconcile finds it (S); after a fallback
// that succeeds, the references name the authorization captured and its
// available before.
func TestReconcileAfterTheFallbackWatchesTheAuthorizationUsed(t *testing.T) {
	const order = 773
	expires := time.Now().Add(time.Hour).Unix()
	seed := func(left75 string) sandbox.OrderSeed {
		return sandbox.OrderSeed{OrderID: order, Records: []sandbox.RecordSeed{
			{ID: 70, Type: sandbox.TypeAuth, Amount: "60.00", Available: "60.00", Expires: expires},
			{ID: 75, Type: sandbox.TypeAuth, Amount: "100.00", Available: left75},
		}}
	}
	for _, hidden := range []bool{true, false} {
		name := "the capture record not shown yet: parked, never captured again"
		if !hidden {
			name = "the capture record shown: found"
		}
		t.Run(name, func(t *testing.T) {
			var skew atomic.Int64
			e := newEnv(t, sandbox.Config{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}, seed("100.00"))
			c := newClient(t, e.sb.URL(lostCaptureProxy(t, e.srv.URL, 75).URL), token, "")
			ctx := context.Background()
			req := confirmed(t, e, debit(strconv.Itoa(order), "50.00"))
			if req.Refs[miva.RefPaymentID] != "70" {
				t.Fatalf("confirmed against %s, want 70", req.Refs[miva.RefPaymentID])
			}
			skew.Store(int64(2 * time.Hour)) // 70 has expired at Miva
			if _, err := c.Settle(ctx, req); !uncertain503(err) {
				t.Fatalf("Settle = %v, want the proxy's 503 (uncertain: it may have reached Miva)", err)
			}
			if cs := captures(e); len(cs) != 1 || cs[0].PaymentID != 75 {
				t.Fatalf("captures %+v, want one on 75", cs)
			}
			if hidden {
				// 75's available fell; the list does not show the record.
				if _, err := e.sb.SeedOrder(seed("50.00")); err != nil {
					t.Fatal(err)
				}
			}
			out, found, err := c.Reconcile(ctx, req)
			if !hidden {
				if err != nil || !found || out.Kind != providers.Settled || mustID(out.Ref) != captures(e)[0].RecordID {
					t.Fatalf("Reconcile = %+v, %v, %v; ledger %+v", out, found, err, captures(e))
				}
				return
			}
			if err == nil && !found {
				// What the pipeline does after found=false following a
				// "not sent" answer: settle again.
				out, serr := c.Settle(ctx, req)
				t.Fatalf("Reconcile answered found=false with 50.00 captured on 75; Settle again = %+v, %v; captures %+v", out, serr, captures(e))
			}
			checkErr(t, err, providers.Unresolved, "", "order 773 is ambiguous")
			if !strings.Contains(providers.ReasonOf(err), "75") {
				t.Errorf("reason %q does not name authorization 75", providers.ReasonOf(err))
			}
		})
	}
	t.Run("a fallback that succeeds: the references describe the authorization captured", func(t *testing.T) {
		var skew atomic.Int64
		e := newEnv(t, sandbox.Config{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}, seed("100.00"))
		req := confirmed(t, e, debit(strconv.Itoa(order), "50.00"))
		skew.Store(int64(2 * time.Hour))
		out, err := e.client.Settle(context.Background(), req)
		if err != nil || out.Kind != providers.Settled || out.Refs[miva.RefPaymentID] != "75" || out.Refs[miva.RefAvailableBefore] != "100" {
			t.Fatalf("Settle = %+v, %v; want S on 75 with its available before (100)", out, err)
		}
	})
}

// lostCaptureProxy forwards every call to upstream, but answers the first
// capture on authorization id 503 once Miva has committed it: a proxy whose
// upstream connection broke after the call went through.
func lostCaptureProxy(t *testing.T, upstream string, id int64) *httptest.Server {
	t.Helper()
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequest(r.Method, upstream+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		lost := false
		if strings.Contains(string(body), `"Function":"`+miva.FunctionCapture+`"`) &&
			strings.Contains(string(body), `"OrderPayment_ID":`+strconv.FormatInt(id, 10)+`,`) {
			once.Do(func() { lost = true })
		}
		if lost {
			http.Error(w, "upstream connection reset", http.StatusServiceUnavailable)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

package miva_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// slowReadThen503 is a proxy in front of the sandbox that holds the
// answer of the slowList-th payment list read for slow (a slow read, well
// within the client's timeout), and answers the first call of function
// with 503 at once while forwarding it to Miva, which commits it late.
func slowReadThen503(t *testing.T, upstream, function string, slowList int, slow time.Duration) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	lists, detachedOnce := 0, false
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		forward := func() (*http.Response, error) {
			req, err := http.NewRequest(r.Method, upstream+r.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header = r.Header.Clone()
			return http.DefaultClient.Do(req)
		}
		mu.Lock()
		detached, delay := false, time.Duration(0)
		if strings.Contains(string(body), `"Function":"`+function+`"`) && !detachedOnce {
			detachedOnce, detached = true, true
		}
		if strings.Contains(string(body), `"Function":"`+miva.FunctionPaymentList+`"`) {
			lists++
			if lists == slowList {
				delay = slow
			}
		}
		mu.Unlock()
		if detached {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := forward(); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			time.Sleep(50 * time.Millisecond) // the call is on its way
			http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusServiceUnavailable)
			return
		}
		resp, err := forward()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		time.Sleep(delay)
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() { wg.Wait(); srv.Close() })
	return srv
}

// TestPipelineSettleWindowCountsFromTheCallNotItsRecord: the settle window
// is how long after a call was sent Miva may still commit it, but the
// pipeline counted it from call_sent_at, recorded before Settle runs, and
// Settle may send the call up to the call timeout later: a refund first
// reads the order's payment list. Here that read takes 1.2s, the refund
// is answered 503 by a proxy while it goes on to Miva, which commits it
// 1.5s later (within the 2s window), and the retry read the payment list
// 2s after call_sent_at, only 0.8s after the refund was sent: it found
// nothing and refunded again. Two refunds in Miva's ledger for one credit.
// The call was sent before its answer: the answer's time (recorded with
// the mark "not sent") starts the window.
func TestPipelineSettleWindowCountsFromTheCallNotItsRecord(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}})
	const late = 1500 * time.Millisecond
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: int(late / time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	// List reads: 1 Prepare's baseline (before call_sent_at), 2 the
	// refund's own read (after it): the slow one.
	proxy := slowReadThen503(t, e.srv.URL, "OrderPayment_Refund", 2, 1200*time.Millisecond)
	url := proxy.URL + strings.TrimPrefix(e.url, e.srv.URL)
	const window = 2 * time.Second // > late: the window covers Miva's commit after the call was sent
	c, err := miva.New(miva.Config{BaseURL: url, StoreCode: storeCode, APIToken: token, Timeout: timeout, SettleWindow: window}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	p := newPipeline(t, e, "")

	msg := settlementMessage(t, "credit-slowread", "900", messages.SettlementCredit, "10.00")
	p.deliver(t, msg)
	ps := p.pub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("attempt 1: status %+v after a 503", st)
	}
	var st *messages.PaymentSettlementStatus
	for i := 0; i < 12 && st == nil; i++ {
		next := retryOf(t, ps)
		if i > 0 {
			time.Sleep(500 * time.Millisecond) // the retry queue's delay
		}
		p.deliver(t, next)
		ps = p.pub.take()
		for _, m := range ps {
			if m.key == broker.ParkedQueue("miva") {
				t.Fatalf("parked: %s (refunds %+v)", m.msg.Metadata.Get("parked_reason"), refunds(e))
			}
		}
		st = statusOf(t, ps)
	}
	time.Sleep(late + 300*time.Millisecond) // any late commit has landed
	if rs := refunds(e); len(rs) != 1 {
		t.Fatalf("%d refunds for one credit (status %+v): %+v", len(rs), st, rs)
	}
	if st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %+v, want S for the one refund", st)
	}
}

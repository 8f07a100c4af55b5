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

// lateBehind503 is a proxy in front of the sandbox that answers the first
// call of function with 503 at once (as a proxy does when its upstream
// connection is reset before the answer's headers) while the call goes on
// to Miva, which commits it late.
func lateBehind503(t *testing.T, upstream, function string) *httptest.Server {
	t.Helper()
	var once sync.Once
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
		detached := false
		if strings.Contains(string(body), `"Function":"`+function+`"`) {
			once.Do(func() { detached = true })
		}
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
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() { wg.Wait(); srv.Close() })
	return srv
}

// TestPipelineNotSentAnswerBeforeALateRefundIsNotRefundedTwice: a proxy
// answers 503 while the refund it forwarded is still on its way to Miva,
// which commits it late (after the client's answer: a provider may commit
// after the client gave up, the reason for the settle window). The client
// reads 503 as "refused before acting" (not sent); the retry read the
// payment list at once, before the late commit, found nothing and
// refunded again: two refunds for one credit, and one S. Without an
// idempotency key, a call answered "not sent" is reconciled only once its
// settle window has passed since it was sent.
func TestPipelineNotSentAnswerBeforeALateRefundIsNotRefundedTwice(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}})
	const late = 600 * time.Millisecond
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: int(late / time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	proxy := lateBehind503(t, e.srv.URL, "OrderPayment_Refund")
	url := proxy.URL + strings.TrimPrefix(e.url, e.srv.URL)
	const window = 2 * time.Second
	c, err := miva.New(miva.Config{BaseURL: url, StoreCode: storeCode, APIToken: token, Timeout: timeout, SettleWindow: window}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	p := newPipeline(t, e, "")

	msg := settlementMessage(t, "credit-503-late", "900", messages.SettlementCredit, "10.00")
	p.deliver(t, msg)
	ps := p.pub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("attempt 1: status %+v after a 503", st)
	}
	var st *messages.PaymentSettlementStatus
	for i := 0; i < 10 && st == nil; i++ {
		next := retryOf(t, ps)
		if i > 0 {
			time.Sleep(time.Second) // the retry queue's delay
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

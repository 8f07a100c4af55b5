package miva_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// notSentProxy is a proxy in front of the sandbox that answers the first
// call of function with 503 at once (as a proxy does when its upstream
// connection is reset before the answer's headers) while the call goes on
// to Miva, which commits it late. When slowList > 0, it also holds the
// answer of the slowList-th payment list read for slow (a slow read, well
// within the client's timeout).
func notSentProxy(t *testing.T, upstream, function string, slowList int, slow time.Duration) *httptest.Server {
	t.Helper()
	lists := 0
	srv, _ := providertest.Detached503(t, upstream, func(_ *http.Request, body []byte) bool {
		return strings.Contains(string(body), `"Function":"`+function+`"`)
	}, func(body []byte) time.Duration {
		if strings.Contains(string(body), `"Function":"`+miva.FunctionPaymentList+`"`) {
			lists++
			if lists == slowList {
				return slow
			}
		}
		return 0
	})
	return srv
}

// refusedBeforeActing makes the sandbox answer the next call with Miva's
// own refusal before the function runs (access_denied): the only answers,
// with a connection refused, that prove a call was not acted on (a bare 503
// may be a proxy's after it forwarded the call).
var refusedBeforeActing = sandbox.Faults{ErrorNext: 1, ErrorCode: "access_denied"}

// uncertain503 reports whether err is a proxy's bare 503 as the client
// reads it: transient, and never NotSent (the proxy may have forwarded the
// call, which Miva may commit later).
func uncertain503(err error) bool {
	return providers.ClassOf(err) == providers.Transient && providers.CodeOf(err) == "503" && !providers.WasNotSent(err)
}

// useProxy points e's client at proxy (in front of e's sandbox) with the
// settle window window.
func useProxy(t *testing.T, e *env, proxy *httptest.Server, window time.Duration) {
	t.Helper()
	url := proxy.URL + strings.TrimPrefix(e.url, e.srv.URL)
	c, err := miva.New(miva.Config{BaseURL: url, StoreCode: storeCode, APIToken: token, Timeout: timeout, SettleWindow: window}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
}

// refundOnceAfter503 delivers msg, a credit whose refund the proxy answers
// 503 (no status may follow), then its retries (each after delay, as the
// retry queue would; never parked) until a status comes, at most tries;
// once any late commit (late) has landed, Miva must hold exactly one
// refund and the status must be S.
func refundOnceAfter503(t *testing.T, e *env, p *pipeline, msg *message.Message, tries int, delay, late time.Duration) {
	t.Helper()
	p.deliver(t, msg)
	ps := p.pub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("attempt 1: status %+v after a 503", st)
	}
	var st *messages.PaymentSettlementStatus
	for i := 0; i < tries && st == nil; i++ {
		next := retryOf(t, ps)
		if i > 0 {
			time.Sleep(delay) // the retry queue's delay
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

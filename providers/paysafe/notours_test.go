package paysafe_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// behindGateway returns a client of e's sandbox through a stand-in (a
// gateway, a cache, a stub at a wrong PAYSAFE_BASE_URL) that answers the
// calls intercept claims with its body, HTTP 200, and forwards the rest.
func behindGateway(t *testing.T, e *env, intercept func(*http.Request) (string, bool)) *paysafe.Client {
	t.Helper()
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body, ok := intercept(r); ok {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, body)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gw.Close)
	return newClient(t, gw.URL+"/paysafe", user, pass)
}

// judge fails when the outcome is a verdict the sandbox's ledger of kind
// for merchantRefNum ref does not bear out: an S without a COMPLETED
// transaction, an R (a Refused outcome or a Permanent error) while one
// holds money.
func judge(t *testing.T, e *env, kind, ref string, out providers.Outcome, err error) {
	t.Helper()
	es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: kind, MerchantRefNum: ref})
	completed, live := false, false
	for _, x := range es {
		completed = completed || x.Status == sandbox.StatusCompleted
		live = live || (x.Status != sandbox.StatusFailed && x.Status != sandbox.StatusCancelled)
	}
	switch {
	case err == nil && out.Kind == providers.Settled && !completed:
		t.Fatalf("S (%s %s) but the ledger holds no COMPLETED %s with merchantRefNum %s: %+v", kind, out.Ref, kind, ref, es)
	case err == nil && out.Kind == providers.Refused && live:
		t.Fatalf("R (%s) but the ledger holds a live %s with merchantRefNum %s: %+v", out.Reason, kind, ref, es)
	case err != nil && providers.ClassOf(err) == providers.Permanent && live:
		t.Fatalf("R (%v) but the ledger holds a live %s with merchantRefNum %s: %+v", err, kind, ref, es)
	}
}

// TestAnswerWithoutOurMerchantRefNumIsNotOurs: a settlement or refund in
// an answer (to the settle or refund call, to a poll) was taken for the
// request's as long as its merchantRefNum was not another's: one without
// any, of the right amount, made an S. Paysafe's settlements and refunds
// always carry the merchantRefNum they were created with (seed 001), so
// such an answer is not Paysafe's word on this request (a gateway or a
// stub at a wrong PAYSAFE_BASE_URL, a cache): judged from the sandbox's
// ledger, the S was over money that never moved (nothing created, or the
// request's settlement CANCELLED). It is now a transient failure (the
// next attempt looks the request up by merchantRefNum first; a poll is
// retried, then parked), never a verdict.
func TestAnswerWithoutOurMerchantRefNumIsNotOurs(t *testing.T) {
	const completed = `{"id":"gw-1","status":"COMPLETED","amount":2500,"availableToRefund":2500}`
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) (kind, ref string, out providers.Outcome, err error)
	}{
		{"settle answered COMPLETED without merchantRefNum, nothing created", func(t *testing.T, e *env) (string, string, providers.Outcome, error) {
			authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
			c := behindGateway(t, e, func(r *http.Request) (string, bool) {
				return completed, r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/settlements")
			})
			out, err := c.Settle(ctx(t), debit("nr-settle", authID, "25.00", "USD"))
			return sandbox.KindSettlement, "nr-settle", out, err
		}},
		{"refund answered COMPLETED without merchantRefNum, nothing created", func(t *testing.T, e *env) (string, string, providers.Outcome, error) {
			_, settlementID := batchedSettlement(t, e, acct, "USD", "25.00")
			c := behindGateway(t, e, func(r *http.Request) (string, bool) {
				return completed, r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/refunds")
			})
			out, err := c.Settle(ctx(t), credit("nr-refund", settlementID, "25.00", "USD"))
			return sandbox.KindRefund, "nr-refund", out, err
		}},
		{"poll answered by another settlement without merchantRefNum, ours cancelled", func(t *testing.T, e *env) (string, string, providers.Outcome, error) {
			authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
			other := e.authorize(t, sandbox.Authorization{Amount: 2500})
			req := debit("nr-poll", authID, "25.00", "USD")
			pending := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
			if _, err := e.sb.CancelSettlement(acct, pending.Ref); err != nil {
				t.Fatal(err)
			}
			theirs := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("nr-other", other, "25.00", "USD")))
			e.sb.RunBatch()
			c := behindGateway(t, e, func(r *http.Request) (string, bool) {
				return `{"id":"` + theirs.Ref + `","status":"COMPLETED","amount":2500,"availableToRefund":2500}`,
					r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/settlements/"+pending.Ref)
			})
			out, err := c.Poll(ctx(t), withRefs(req, pending))
			return sandbox.KindSettlement, "nr-poll", out, err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			kind, ref, out, err := tc.run(t, e)
			judge(t, e, kind, ref, out, err)
			if err == nil {
				t.Fatalf("outcome %+v, want a transient error: the answer is not Paysafe's word on merchantRefNum %s", out, ref)
			}
			checkErr(t, err, providers.Transient, "", "no merchantRefNum")
			if providers.WasNotSent(err) {
				t.Fatalf("NotSent, but the call may have reached Paysafe: %v", err)
			}
		})
	}
}

package paysafe_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// lateProxy answers the first POST whose path ends with suffix with a 503
// at once (Envoy's "upstream reset before headers") while it forwards the
// call to upstream, where it goes on and commits; every other call is
// passed through. wait returns once the detached call has been answered
// by upstream (it committed or was refused).
func lateProxy(t *testing.T, upstream, suffix string) (srv *httptest.Server, wait func()) {
	t.Helper()
	return providertest.Detached503(t, upstream, func(r *http.Request, _ []byte) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, suffix)
	}, nil)
}

// TestProxy503WhileTheCallCommitsLateNeverMovesMoneyTwice: seed 001 says
// only that a merchantRefNum must be unique per transaction, not when
// Paysafe checks it; Paysafe's API reference speaks of one "already used
// in a previous request". Checked when a call arrives
// (sandbox.Config.DupCheckAtArrival), a repeat that arrives while the first
// call is still on its way to its commit is not refused: both commit. A
// proxy answered the first settlement (refund) call 503 at once while the
// call went on to Paysafe, which committed it 400ms later; the client
// read the 503 as "not sent" and the pipeline, Paysafe being idempotent,
// sent the call again at once: two settlements (refunds) of the request in
// the sandbox's ledger. A 503 on a settlement or refund call is now
// uncertain: the retry waits for the settle window and looks the
// merchantRefNum up before any new call, and finds the first.
func TestProxy503WhileTheCallCommitsLateNeverMovesMoneyTwice(t *testing.T) {
	for _, kind := range []string{sandbox.KindSettlement, sandbox.KindRefund} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{DupCheckAtArrival: true})
			authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
			id, ep, suffix := "arrival-debit", sandbox.EndpointSettle, "/settlements"
			msg := func() *message.Message {
				return requestMessage(t, id, messages.SettlementDebit, "20.00", map[string]string{"authorization_id": authID})
			}
			if kind == sandbox.KindRefund {
				seed := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("arrival-seed", authID, "50.00", "USD")))
				e.sb.RunBatch()
				id, ep, suffix = "arrival-credit", sandbox.EndpointRefund, "/refunds"
				msg = func() *message.Message {
					return requestMessage(t, id, messages.SettlementCredit, "20.00", map[string]string{"settlement_id": seed.Ref})
				}
			}
			if err := e.sb.SetFaults(ep, sandbox.Faults{LateNext: 1, LateMS: 400}); err != nil {
				t.Fatal(err)
			}
			proxy, landed := lateProxy(t, e.srv.URL, suffix)
			cfg := clientConfig(proxy.URL+"/paysafe", user, pass)
			cfg.SettleWindow = 2 * time.Second // longer than Paysafe takes to commit (400ms)
			c, err := paysafe.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			pe := *e
			pe.client = c
			p := newPipeline(t, &pe)

			next, st := p.deliver(t, msg())
			for deadline := time.Now().Add(20 * time.Second); st == nil && next != nil; {
				if time.Now().After(deadline) {
					t.Fatal("no status within 20s")
				}
				if next.Metadata.Get(handlers.HeaderPoll) == "true" {
					e.sb.RunBatch()
				}
				time.Sleep(100 * time.Millisecond)
				next, st = p.deliver(t, next)
			}
			landed()
			e.sb.RunBatch()
			mine := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: kind, MerchantRefNum: id})
			if len(mine) != 1 || mine[0].Amount != 2000 {
				t.Fatalf("the sandbox holds %d %ss with merchantRefNum %s: %+v; want exactly one of 20.00", len(mine), kind, id, mine)
			}
			if st == nil || st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("status %+v, want S", st)
			}
		})
	}
}

// TestTimeoutWhileTheCallCommitsLateSettlesOnceWithArrivalCheck pins the
// path a 503 now takes: a settlement (refund) call times out (1.5s) while
// Paysafe commits it late (2.2s), its merchantRefNum checked on arrival
// (sandbox.Config.DupCheckAtArrival). The retry waits out the settle
// window (3s) and the lookup finds the late commit: one transaction, S.
// A hardening test: it passed before the 503 fix too.
func TestTimeoutWhileTheCallCommitsLateSettlesOnceWithArrivalCheck(t *testing.T) {
	for _, kind := range []string{sandbox.KindSettlement, sandbox.KindRefund} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{DupCheckAtArrival: true})
			authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
			id, ep := "timeout-debit", sandbox.EndpointSettle
			msg := requestMessage(t, id, messages.SettlementDebit, "20.00", map[string]string{"authorization_id": authID})
			if kind == sandbox.KindRefund {
				seed := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("timeout-seed", authID, "50.00", "USD")))
				e.sb.RunBatch()
				id, ep = "timeout-credit", sandbox.EndpointRefund
				msg = requestMessage(t, id, messages.SettlementCredit, "20.00", map[string]string{"settlement_id": seed.Ref})
			}
			if err := e.sb.SetFaults(ep, sandbox.Faults{LateNext: 1, LateMS: int(timeout/time.Millisecond) + 700}); err != nil {
				t.Fatal(err)
			}
			cfg := clientConfig(e.srv.URL+"/paysafe", user, pass)
			cfg.SettleWindow = 3 * time.Second
			c, err := paysafe.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			pe := *e
			pe.client = c
			p := newPipeline(t, &pe)
			next, st := p.deliver(t, msg)
			for deadline := time.Now().Add(20 * time.Second); st == nil && next != nil; {
				if time.Now().After(deadline) {
					t.Fatal("no status within 20s")
				}
				if next.Metadata.Get(handlers.HeaderPoll) == "true" {
					e.sb.RunBatch()
				}
				time.Sleep(100 * time.Millisecond)
				next, st = p.deliver(t, next)
			}
			e.sb.RunBatch()
			mine := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: kind, MerchantRefNum: id})
			if len(mine) != 1 || mine[0].Amount != 2000 {
				t.Fatalf("the sandbox holds %d %ss with merchantRefNum %s: %+v; want exactly one of 20.00", len(mine), kind, id, mine)
			}
			if st == nil || st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("status %+v, want S", st)
			}
		})
	}
}

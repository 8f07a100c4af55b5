package paysafe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// maxSeveralReason bounds the reason of a lookup that finds several
// transactions: the fixed text, the request's merchantRefNum and amount,
// and at most providers.MaxQuoted bytes of Paysafe's own text.
const maxSeveralReason = 700

// TestSeveralTransactionsReasonIsBounded: a lookup by merchantRefNum that
// finds several transactions parks the request with a reason naming them.
// It named every one, whole: 40 duplicates in the sandbox's ledger gave a
// reason of kilobytes, and a hostile or buggy answer (ids of kilobytes, a
// list up to the 1 MiB read) one of up to a MiB, logged at every attempt
// and stored with the settlement. The reason now gives the count and the
// first few, Paysafe's text cut to providers.MaxQuoted bytes.
func TestSeveralTransactionsReasonIsBounded(t *testing.T) {
	t.Run("40 duplicates in the sandbox's ledger", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{MaxSettlements: 100})
		authID := e.authorize(t, sandbox.Authorization{Amount: 100000})
		req := debit("sev-1", authID, "1.00", "USD")
		for range 40 {
			e.settleWithoutDupCheck(t, authID, "sev-1", 100)
		}
		es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindSettlement, MerchantRefNum: "sev-1"})
		if len(es) != 40 {
			t.Fatalf("%d settlements in the ledger, want 40", len(es))
		}
		_, found, err := e.client.Reconcile(ctx(t), req)
		if found {
			t.Fatal("found")
		}
		checkErr(t, err, providers.Unresolved, "", "40 settlements carry merchantRefNum sev-1")
		reason := providers.ReasonOf(err)
		if !strings.Contains(reason, es[0].ID) {
			t.Fatalf("reason %q does not name the first settlement %s", reason, es[0].ID)
		}
		if len(reason) > maxSeveralReason {
			t.Fatalf("reason of %d bytes, want at most %d: %q", len(reason), maxSeveralReason, reason)
		}
	})
	t.Run("hostile answer: huge ids, a thousand entries", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"settlements":[`)
		for i := 0; i < 1000; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"id":"%d-%s","merchantRefNum":"sev-2","status":"PENDING%s","amount":100}`, i, strings.Repeat("x", 200), strings.Repeat("Y", 300))
		}
		b.WriteString(`]}`)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(b.String()))
		}))
		t.Cleanup(srv.Close)
		_, found, err := newClient(t, srv.URL, user, pass).Reconcile(ctx(t), debit("sev-2", "a1", "1.00", "USD"))
		if found {
			t.Fatal("found")
		}
		checkErr(t, err, providers.Unresolved, "", "1000 settlements carry merchantRefNum sev-2")
		if reason := providers.ReasonOf(err); len(reason) > maxSeveralReason {
			t.Fatalf("reason of %d bytes, want at most %d: %.300q…", len(reason), maxSeveralReason, reason)
		}
	})
}

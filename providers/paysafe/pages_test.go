package paysafe_test

import (
	"net/http"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestLookupWithMorePagesIsNotConcluded: Paysafe's list answers come in
// pages, the next one linked with rel "next" (its SDKs' pagerators follow
// it; seed 001 does not document lookups, so the sandbox pages them as the
// SDKs read them: Config.LookupPageSize). The client read the first page
// only and concluded from it, judged from the sandbox's ledger:
//
//   - a lookup whose first page held the request's CANCELLED settlement,
//     the next one a second, live settlement with the same merchantRefNum
//     (submitted without dupCheck), was read as that one transaction: R
//     "the customer was not charged" while the ledger holds a COMPLETED
//     settlement of the merchantRefNum;
//   - a first page listing nothing but linking a next one (a gateway that
//     pages from an empty page) was read as "nothing there": a repeat
//     refused with the state its first attempt left (3203) became an R
//     although that attempt's settlement is in the ledger.
//
// Several pages for one merchantRefNum mean several transactions (or an
// answer that cannot tell), so the lookup now parks the request for a
// person (Unresolved) instead of concluding from the first page.
func TestLookupWithMorePagesIsNotConcluded(t *testing.T) {
	t.Run("our cancelled settlement on page 1, a live one on page 2", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{LookupPageSize: 1})
		authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
		req := debit("pg-1", authID, "25.00", "USD")
		ours := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
		if _, err := e.sb.CancelSettlement(acct, ours.Ref); err != nil {
			t.Fatal(err)
		}
		e.settleWithoutDupCheck(t, authID, "pg-1", 2500)
		e.sb.RunBatch()
		out, found, err := e.client.Reconcile(ctx(t), req)
		judge(t, e, sandbox.KindSettlement, "pg-1", out, err)
		if found {
			t.Fatalf("found %+v from the first page of two", out)
		}
		checkErr(t, err, providers.Unresolved, "", "next page")
	})
	t.Run("an empty first page linking a next one, after a repeat refused 3203", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{StateBeforeDupCheck: true})
		authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
		req := debit("pg-2", authID, "25.00", "USD")
		if err := e.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{DropNext: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Settle(ctx(t), req); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("attempt 1: %v", err)
		}
		e.sb.RunBatch()
		c := behindGateway(t, e, func(r *http.Request) (string, bool) {
			next := "http://" + r.Host + r.URL.Path + "?" + r.URL.RawQuery + "&offset=10&limit=10"
			return `{"settlements":[],"links":[{"rel":"next","href":"` + next + `"}]}`,
				r.Method == http.MethodGet && r.URL.Query().Has("merchantRefNum")
		})
		again := *req
		again.Attempt = 2
		out, err := c.Settle(ctx(t), &again)
		judge(t, e, sandbox.KindSettlement, "pg-2", out, err)
		checkErr(t, err, providers.Unresolved, "", "next page")
	})
}

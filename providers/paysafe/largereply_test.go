package paysafe_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/providers"
)

// TestReplyLargerThanTheLimit: a reply longer than the 1 MiB read was cut
// there and parsed: a 200 was retried (then parked) as "unparseable reply
// (1048576 bytes)", a 4xx as an answer without a Paysafe error code. It is
// now a transient failure saying the reply was larger than the worker
// reads.
func TestReplyLargerThanTheLimit(t *testing.T) {
	providertest.ReplyLargerThanTheLimit(t, 1<<20, `{"id":"s-1","status":"COMPLETED","merchantRefNum":"`,
		[]int{http.StatusOK, http.StatusBadRequest}, func(t *testing.T, ctx context.Context, base string) {
			_, err := newClient(t, base, user, pass).Settle(ctx, debit("big-1", "auth-1", "10.00", "USD"))
			checkErr(t, err, providers.Transient, "", "reply larger than 1048576 bytes")
		})
}

// TestLookupReplyLargerThanTheLimit: a lookup by merchantRefNum is decoded
// whole, but only after the same 1 MiB read: a longer list is a transient
// failure, never a cut list read as "nothing there".
func TestLookupReplyLargerThanTheLimit(t *testing.T) {
	providertest.ReplyLargerThanTheLimit(t, 1<<20, `{"settlements":[{"id":"s-1","status":"COMPLETED","amount":1000,"merchantRefNum":"`,
		[]int{http.StatusOK}, func(t *testing.T, ctx context.Context, base string) {
			_, found, err := newClient(t, base, user, pass).Reconcile(ctx, debit("big-2", "auth-1", "10.00", "USD"))
			if found {
				t.Fatal("found")
			}
			checkErr(t, err, providers.Transient, "", "reply larger than 1048576 bytes")
		})
}

package miva_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/providers"
)

// TestReplyLargerThanTheLimit: a reply longer than the 4 MiB read was cut
// there and parsed, and the settlement retried (then parked) as "HTTP 200
// with an unparseable reply (4194304 bytes)": an operator read Miva
// sending garbage, not a reply (a payment list) larger than the worker
// reads. It is now a transient failure saying so.
func TestReplyLargerThanTheLimit(t *testing.T) {
	providertest.ReplyLargerThanTheLimit(t, 4<<20, `{"success":1,"data":{"total_count":1,"data":[{"id":1,"descrip":"`,
		[]int{http.StatusOK}, func(t *testing.T, ctx context.Context, base string) {
			_, err := newClient(t, base, token, "").Settle(ctx, debit("1001", "10.00"))
			checkErr(t, err, providers.Transient, "", "reply larger than 4194304 bytes")
		})
}

package radial_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
)

// TestReplyLargerThanTheLimit: a reply longer than the 1 MiB read was cut
// there and parsed, and the settlement retried (then parked) as "HTTP 200
// with an unparseable reply (1048576 bytes)": an operator read a provider
// sending garbage, not a reply the worker does not read to its end. It is
// now a transient failure saying so, whatever the status.
func TestReplyLargerThanTheLimit(t *testing.T) {
	providertest.ReplyLargerThanTheLimit(t, 1<<20, `<AckReply xmlns="`+messages.Namespace+`"><Received>`,
		[]int{http.StatusOK, http.StatusInternalServerError}, func(t *testing.T, ctx context.Context, base string) {
			_, err := newClient(t, base, apiKey).Settle(ctx, request("big-1", "O-BIG", "Debit", "10.00", "10.00"))
			checkErr(t, err, true, "", "reply larger than 1048576 bytes")
		})
}

package frisbii_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/providers"
)

// TestReplyLargerThanTheLimit: a reply longer than the 1 MiB read was cut
// there and parsed: a 200 was retried (then parked) as "unparseable reply
// (1048576 bytes)", a 4xx as a bare HTTP status. It is now a transient
// failure saying the reply was larger than the worker reads.
func TestReplyLargerThanTheLimit(t *testing.T) {
	providertest.ReplyLargerThanTheLimit(t, 1<<20, `{"code":77,"error":"Transaction declined","message":"`,
		[]int{http.StatusOK, http.StatusBadRequest}, func(t *testing.T, ctx context.Context, base string) {
			_, err := newClient(t, base, apiKey).Settle(ctx, debit("big-1", "ch-big", "10.00"))
			checkErr(t, err, providers.Transient, "", "reply larger than 1048576 bytes")
		})
}

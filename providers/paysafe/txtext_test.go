package paysafe_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestTransactionTextInReasonsIsBounded: the reasons made of a settlement
// or refund in an answer (an R's DeclineReason, a parked or retried
// reason) quoted its id, status, merchantRefNum and error code whole:
// a hostile or buggy answer of up to 1 MiB went into a DeclineReason
// published to the status queue and POSTed to the webhook, or into a
// reason logged at every attempt. Each is now cut like the rest of
// Paysafe's text (providers.QuotedCode, providers.Quoted).
func TestTransactionTextInReasonsIsBounded(t *testing.T) {
	huge := strings.Repeat("z", 300<<10)
	tests := []struct {
		name, body string
		kind       providers.Kind  // of the outcome, or "" for an error
		class      providers.Class // of the error
	}{
		{"CANCELLED with a huge id", `{"id":"` + huge + `","merchantRefNum":"tx-1","status":"CANCELLED","amount":1000}`, providers.Refused, 0},
		{"FAILED with a huge id and error code", `{"id":"` + huge + `","merchantRefNum":"tx-1","status":"FAILED","amount":1000,"error":{"code":"` + huge + `","message":"declined"}}`, providers.Refused, 0},
		{"a huge unknown status", `{"id":"s-1","merchantRefNum":"tx-1","status":"` + huge + `","amount":1000}`, "", providers.Transient},
		{"no id, a huge status", `{"merchantRefNum":"tx-1","status":"` + huge + `","amount":1000}`, "", providers.Transient},
		{"a huge other merchantRefNum", `{"id":"s-1","merchantRefNum":"` + huge + `","status":"COMPLETED","amount":1000}`, "", providers.Unresolved},
		{"another amount, a huge id", `{"id":"` + huge + `","merchantRefNum":"tx-1","status":"COMPLETED","amount":999}`, "", providers.Unresolved},
		{"no merchantRefNum, a huge id", `{"id":"` + huge + `","status":"COMPLETED","amount":1000}`, "", providers.Transient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fake(t, http.StatusOK, tc.body, "")
			out, err := newClient(t, srv.URL, user, pass).Settle(ctx(t), debit("tx-1", "auth-1", "10.00", "USD"))
			reason := out.Reason
			if tc.kind != "" {
				mustOutcome(t, out, err, tc.kind)
			} else {
				checkErr(t, err, tc.class, "", "")
				reason = providers.ReasonOf(err)
			}
			if len(reason) > 1000 {
				t.Fatalf("reason of %d bytes: %.300q…", len(reason), reason)
			}
		})
	}
}

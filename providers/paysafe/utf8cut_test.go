package paysafe_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestLongMessageIsCutBetweenCharacters: Paysafe's messages are cut to
// 200 bytes in a reason, and the cut fell inside a character: a FAILED
// settlement whose message had "é" across byte 200 got a DeclineReason
// that is not valid UTF-8 (published in the XML status and the webhook's
// JSON), and so did an error reply's reason. They are now cut with
// providers.Quoted, never inside a character.
func TestLongMessageIsCutBetweenCharacters(t *testing.T) {
	msg := strings.Repeat("x", 199) + "é declined"
	t.Run("FAILED settlement", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		auth := e.authorize(t, sandbox.Authorization{Amount: 1000, BatchOutcome: sandbox.StatusFailed, FailureMessage: msg})
		req := debit("utf-1", auth, "10.00", "USD")
		out := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
		e.sb.RunBatch()
		refused := expect(t, providers.Refused)(e.client.Poll(ctx(t), withRefs(req, out)))
		if !utf8.ValidString(refused.Reason) {
			t.Fatalf("DeclineReason is not valid UTF-8: %q", refused.Reason)
		}
	})
	t.Run("error reply", func(t *testing.T) {
		srv, _ := fake(t, 400, `{"error":{"code":"5068","message":"`+msg+`"}}`, "")
		_, err := newClient(t, srv.URL, user, pass).Settle(ctx(t), debit("utf-2", "a1", "1.00", "USD"))
		checkErr(t, err, providers.Permanent, "5068", "")
		if !utf8.ValidString(providers.ReasonOf(err)) {
			t.Fatalf("reason is not valid UTF-8: %q", providers.ReasonOf(err))
		}
	})
}

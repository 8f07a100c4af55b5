package paysafe_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// leaksPart fails when s holds more of secret than a masked card number
// shows (its first 6 digits), i.e. any 7-character piece of it.
func leaksPart(t *testing.T, what, s, secret string) {
	t.Helper()
	for i := 0; i+7 <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+7]) {
			t.Fatalf("%s %q leaks %q, part of a secret", what, s, secret[i:i+7])
		}
	}
}

// TestLongMessageNeverLeaksPartOfASecret: Paysafe's messages are cut to
// 200 bytes in a reason. A secret (the card number, the API password) that
// the cut splits must be masked all the same: masking after the cut no
// longer finds it and leaves its first digits in the DeclineReason.
func TestLongMessageNeverLeaksPartOfASecret(t *testing.T) {
	for _, at := range []int{186, 190, 194, 198} {
		msg := strings.Repeat("x", at) + pan + " declined"
		t.Run("FAILED settlement, card number at byte "+itoa(at), func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			auth := e.authorize(t, sandbox.Authorization{Amount: 1000, BatchOutcome: sandbox.StatusFailed, FailureMessage: msg})
			req := debit("long-"+itoa(at), auth, "10.00", "USD")
			out := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
			e.sb.RunBatch()
			refused := expect(t, providers.Refused)(e.client.Poll(ctx(t), withRefs(req, out)))
			leaksPart(t, "DeclineReason", refused.Reason, pan)
		})
		t.Run("error reply, password at byte "+itoa(at), func(t *testing.T) {
			body := `{"error":{"code":"5068","message":"` + strings.Repeat("x", at) + pass + `"}}`
			srv, _ := fake(t, 400, body, "")
			_, err := newClient(t, srv.URL, user, pass).Settle(ctx(t), debit("h-l", "a1", "1.00", "USD"))
			if err == nil {
				t.Fatal("want an error")
			}
			leaksPart(t, "reason", err.Error(), pass)
		})
	}
}

// A card number Paysafe's message echoes in another form than the
// request's account (in groups, or another card) is masked by
// providers.ReasonOf, but only when it is whole: the 200-byte cut came
// first and left up to 14 of its digits, which no mask recognizes, in the
// reason (DeclineReason, parked reason, logs).
func TestLongMessageNeverLeaksPartOfAnEchoedCardNumber(t *testing.T) {
	for _, echoed := range []string{"4400 0000 0000 0008", "4012888888881881"} {
		digits := strings.ReplaceAll(echoed, " ", "")
		for _, at := range []int{182, 186, 190} {
			t.Run(echoed+" at byte "+itoa(at), func(t *testing.T) {
				body := `{"error":{"code":"5068","message":"` + strings.Repeat("x", at) + echoed + ` refused"}}`
				srv, _ := fake(t, 400, body, "")
				_, err := newClient(t, srv.URL, user, pass).Settle(ctx(t), debit("h-c", "a1", "1.00", "USD"))
				if err == nil {
					t.Fatal("want an error")
				}
				for _, s := range []string{err.Error(), providers.ReasonOf(err)} {
					leaksPart(t, "reason", strings.ReplaceAll(s, " ", ""), digits)
				}
			})
		}
	}
}

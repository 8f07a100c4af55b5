package paysafe_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A proxy or a wrong PAYSAFE_BASE_URL echoing the request's headers in
// its error answer echoes the credentials as they travel: the
// Authorization header's base64 of user:password, which the redaction of
// the raw password does not find. That text went into the reason of the
// error, then into the retry header, the parked reason, the store, the
// log line and the span.
func TestAnswerEchoingTheAuthorizationHeaderNeverShowsIt(t *testing.T) {
	encoded := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	answers := []providertest.EchoedAuthorization{
		{Name: "refusal with a code", Status: 400, Body: func(auth string) string {
			return `{"error":{"code":"5279","message":"invalid credentials in Authorization: ` + auth + `"}}`
		}},
		{Name: "failure with a code", Status: 500, Body: func(auth string) string {
			return `{"error":{"code":"1000","message":"upstream saw ` + auth + `"}}`
		}},
		{Name: "refusal, padding dropped", Status: 401, Body: func(auth string) string {
			return `{"error":{"code":"5279","message":"bad ` + strings.TrimRight(auth, "=") + `"}}`
		}},
	}
	providertest.AuthorizationEchoIsNeverShown(t, answers, encoded, pass, "the credentials",
		func(t *testing.T, url string) providers.Provider { return newClient(t, url, user, pass) },
		func() *providers.Request { return debit("be-1", "auth-1", "10.00", "USD") },
		func() *providers.Request {
			cr := credit("be-2", "st-1", "10.00", "USD")
			cr.Message.SettlementType = messages.SettlementCredit
			return cr
		})
}

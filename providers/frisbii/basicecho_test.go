package frisbii_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A proxy or a wrong FRISBII_BASE_URL echoing the request's headers in its
// answer echoes the key as it travels: the Authorization header's base64
// of "key:", which the redaction of the raw key does not find. That text
// went into the reason of the error or refusal, then into the retry
// header, the parked reason or the R's DeclineReason, the store, the log
// line and the span.
func TestAnswerEchoingTheAuthorizationHeaderNeverShowsTheKey(t *testing.T) {
	encoded := base64.StdEncoding.EncodeToString([]byte(apiKey + ":"))
	answers := []providertest.EchoedAuthorization{
		{Name: "unauthorized", Status: 401, Body: func(auth string) string {
			return `{"code":1,"error":"Unauthorized","message":"bad Authorization: ` + auth + `","http_status":401}`
		}},
		{Name: "server error", Status: 500, Body: func(auth string) string {
			return `{"code":105,"error":"upstream saw ` + auth + `","http_status":500}`
		}},
		{Name: "refusal, padding dropped", Status: 400, Body: func(auth string) string {
			return `{"code":1,"error":"Bad request","message":"` + strings.TrimRight(auth, "=") + `","http_status":400}`
		}},
		{Name: "declined settle", Status: 200, Body: func(auth string) string {
			return `{"handle":"O1","state":"failed","error_state":"hard_declined","error":"denied for ` + auth + `"}`
		}},
	}
	providertest.AuthorizationEchoIsNeverShown(t, answers, encoded, apiKey, "the key",
		func(t *testing.T, url string) providers.Provider { return newClient(t, url, apiKey) },
		func() *providers.Request { return debit("be-1", "O1", "1.00") },
		func() *providers.Request { return credit("be-2", "O1", "1.00") })
}

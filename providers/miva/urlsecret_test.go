package miva_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestBaseURLPathSecretIsNeverShown: a BaseURL may carry a secret in its
// path (a gateway's /t/TOKEN/ route). net/http's *url.Error names the whole
// URL, and the client kept it as the cause of a transport failure (a
// closed port, a timeout), whose text is logged; a BaseURL refused by
// Validate was quoted with its path.
func TestBaseURLPathSecretIsNeverShown(t *testing.T) {
	providertest.BaseURLPathSecretIsNeverShown(t,
		func(t *testing.T, base string) (providers.Provider, *providers.Request) {
			return newClient(t, base+"/mm5/json.mvc", token, signingKey), debit("1001", "10.00")
		},
		func(base string) error {
			return miva.Config{BaseURL: base, StoreCode: storeCode, APIToken: token, SigningKey: signingKey}.Validate()
		})
}

// TestConfigStringHidesTheBaseURLPath: Config.String, made for logs, masks
// the token and the signing key; it printed the BaseURL whole.
func TestConfigStringHidesTheBaseURLPath(t *testing.T) {
	const secret = "PATH-SECRET-5be07c"
	s := miva.Config{BaseURL: "https://gw.example.com/t/" + secret + "/mm5/json.mvc", StoreCode: storeCode, APIToken: token, SigningKey: signingKey}.String()
	if strings.Contains(s, secret) || !strings.Contains(s, "gw.example.com") {
		t.Errorf("Config.String shows the BaseURL's path secret or not its host: %s", s)
	}
}

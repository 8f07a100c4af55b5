package frisbii_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
)

// TestBaseURLPathSecretIsNeverShown: a BaseURL may carry a secret in its
// path (a gateway's /t/TOKEN/ route). net/http's *url.Error names the whole
// URL, and the client kept it as the cause of a transport failure (a
// closed port, a timeout), whose text is logged; a BaseURL refused by
// Validate was quoted with its path.
func TestBaseURLPathSecretIsNeverShown(t *testing.T) {
	providertest.BaseURLPathSecretIsNeverShown(t,
		func(t *testing.T, base string) (providers.Provider, *providers.Request) {
			return newClient(t, base, apiKey), debit("s-1", "O-1", "10.00")
		},
		func(base string) error { return frisbii.Config{BaseURL: base, APIKey: apiKey}.Validate() })
}

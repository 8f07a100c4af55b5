package config_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
)

// TestMapVariablesAreTrimmed: caarlos0/env splits a KEY:VALUE list on ","
// and ":" and keeps the spaces, so the natural PAYSAFE_ACCOUNTS=S0:1000,
// S1:1001 gave store " S1" an account and store S1 none: every S1
// settlement was refused (R, "no Paysafe account is configured for store
// S1"). PAYSAFE_CURRENCIES=1000:USD, 1001:EUR gave account " 1001" a
// currency and 1001 none, which turns off the only currency check of its
// credits that name no authorization. Keys and values are trimmed.
func TestMapVariablesAreTrimmed(t *testing.T) {
	cleanEnv(t)
	setEnv(t, minimal...)
	setEnv(t, "PROVIDERS", "radial,paysafe", "PAYSAFE_BASE_URL", "http://p", "PAYSAFE_USERNAME", "u", "PAYSAFE_PASSWORD", "p",
		"PAYSAFE_ACCOUNTS", "S0:1000, S1:1001 ,S2 : 1002", "PAYSAFE_CURRENCIES", "1000:USD, 1001:EUR")
	c, err := config.Load(all.Providers)
	if err != nil {
		t.Fatal(err)
	}
	ps := c.Sections["paysafe"].(*paysafe.Config)
	for store, want := range map[string]string{"S0": "1000", "S1": "1001", "S2": "1002"} {
		if got := ps.Accounts[store]; got != want {
			t.Errorf("PAYSAFE_ACCOUNTS: store %s has account %q, want %q (accounts %q)", store, got, want, ps.Accounts)
		}
	}
	for acct, want := range map[string]string{"1000": "USD", "1001": "EUR"} {
		if got := ps.Currencies[acct]; got != want {
			t.Errorf("PAYSAFE_CURRENCIES: account %s has currency %q, want %q (currencies %q)", acct, got, want, ps.Currencies)
		}
	}
}

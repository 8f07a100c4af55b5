package config_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// TestMapVariablesRefuseARepeatedKey: a KEY:VALUE list names each key once.
// caarlos0/env keeps the last of a repeated key without a word, so
// PAYSAFE_ACCOUNTS=S1:1001,S1:1002 (a line copied and not edited) settled
// store S1 against account 1002 alone, and PAYSAFE_CURRENCIES=1001:USD,1001:EUR
// checked the credits of a USD account as EUR. A repeated key is refused,
// naming the variable and the key (a key is compared trimmed: " S1" is S1).
func TestMapVariablesRefuseARepeatedKey(t *testing.T) {
	paysafe := []string{"PROVIDERS", "radial,paysafe", "PAYSAFE_BASE_URL", "http://p", "PAYSAFE_USERNAME", "u", "PAYSAFE_PASSWORD", "p"}
	for _, tc := range []struct {
		env     []string
		wantVar string // "" accepted
		wantKey string
	}{
		{[]string{"PAYSAFE_ACCOUNTS", "S1:1001,S2:1002"}, "", ""},
		{[]string{"PAYSAFE_ACCOUNTS", "S1:1001,S1:1002"}, "PAYSAFE_ACCOUNTS", `"S1"`},
		{[]string{"PAYSAFE_ACCOUNTS", "S1:1001, S1:1001"}, "PAYSAFE_ACCOUNTS", `"S1"`},
		{[]string{"PAYSAFE_ACCOUNTS", "S1:1001", "PAYSAFE_CURRENCIES", "1001:USD,1001:EUR"}, "PAYSAFE_CURRENCIES", `"1001"`},
		{[]string{"PAYSAFE_ACCOUNTS", "S1:1001", "PAYSAFE_CURRENCIES", "1001:USD"}, "", ""},
	} {
		t.Run(strings.Join(tc.env, "="), func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			setEnv(t, paysafe...)
			setEnv(t, tc.env...)
			_, err := config.Load(all.Providers)
			switch {
			case tc.wantVar == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.wantVar == "":
				return
			case err == nil:
				t.Fatalf("Load accepted %v", tc.env)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.wantVar+":") || !strings.Contains(msg, tc.wantKey) {
				t.Errorf("error does not name %s and the key %s:\n%s", tc.wantVar, tc.wantKey, msg)
			}
		})
	}
}

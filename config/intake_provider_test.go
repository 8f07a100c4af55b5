package config_test

import "testing"

// The HTTP intake publishes each request with routing key
// settlement.request.<provider>: a provider no binary knows (a typo,
// INTAKE_RADIAL_PROVIDER=raidal) has no request queue any replica could
// ever declare or consume, so every request is unroutable and answered 503
// "retry", retried by the client forever, while the worker reports ready.
func TestIntakeProvidersAreKnown(t *testing.T) {
	base := append([]string{"INTAKE_ADDR", "127.0.0.1:0", "INTAKE_RADIAL_API_KEYS", "intake-key",
		"INTAKE_RETAILOPS_AUTH_KEYS", "ro-key", "INTAKE_RETAILOPS_CHANNELS", "21=radial:S1:PY:USD"}, minimal...)
	cases := []struct {
		name    string
		env     []string
		wantErr string // "" when the configuration is valid
	}{
		{"defaults", nil, ""},
		{"a known provider another replica may run", []string{"INTAKE_RADIAL_PROVIDER", "paysafe",
			"INTAKE_RETAILOPS_CHANNELS", "21=miva:S1:PY:USD"}, ""},
		{"Radial-format provider unknown", []string{"INTAKE_RADIAL_PROVIDER", "raidal"}, "INTAKE_RADIAL_PROVIDER"},
		{"RetailOPS channel provider unknown", []string{"INTAKE_RETAILOPS_CHANNELS", "21=mvia:S1:PY:USD"}, "INTAKE_RETAILOPS_CHANNELS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectLoad(t, base, tc.env, tc.wantErr) })
	}
}

package config_test

import "testing"

// An SQLite file is one process's (store.Open locks it): no other replica
// can sweep it, so SWEEP_INTERVAL=0 there would leave an unpublished
// verdict unrelayed and every deadline unenforced, in silence. Only a
// PostgreSQL store, which another replica may sweep, may turn it off.
func TestSweeperCannotBeTurnedOffOnSQLite(t *testing.T) {
	cases := []struct {
		name, dsn, interval, wantErr string
	}{
		{"default sqlite store", "", "0", "SWEEP_INTERVAL"},
		{"sqlite: path", "sqlite:/var/lib/sw/settlements.db", "0s", "SWEEP_INTERVAL"},
		{"file: path", "file:/var/lib/sw/settlements.db", "0", "SWEEP_INTERVAL"},
		{"bare path", "/var/lib/sw/settlements.db", "0", "SWEEP_INTERVAL"},
		{"in memory", "sqlite::memory:", "0", "SWEEP_INTERVAL"},
		{"sqlite swept", "sqlite:/var/lib/sw/settlements.db", "1h", ""},
		{"postgres off (another replica sweeps)", "postgres://u:p@db:5432/sw", "0", ""},
		{"postgresql off", "postgresql://u:p@db:5432/sw", "0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"SWEEP_INTERVAL", tc.interval}
			if tc.dsn != "" {
				env = append(env, "STORE_DSN", tc.dsn)
			}
			expectLoad(t, minimal, env, tc.wantErr)
		})
	}
}

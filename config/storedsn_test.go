package config_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// TestStoreDSNIsWhatItLooksLike: a STORE_DSN that Open would not read as
// written (a PostgreSQL URL without its "//", which it took for an SQLite
// path, a libpq keyword string, an unknown scheme) is refused at load,
// with the other configuration errors and exit code 2, before the worker
// connects anywhere, and without quoting its password. Before, such a
// postgres:/… DSN loaded, and each replica settled on an SQLite file of
// its own.
func TestStoreDSNIsWhatItLooksLike(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want string // "" accepted
	}{
		{"postgres://app:S3CRETPW@db:5432/settlements", ""},
		{"sqlite:/var/lib/settlement-worker/settlements.db", ""},
		{"settlements.db", ""},
		{"postgres:/app:S3CRETPW@db:5432/settlements", "postgres://"},
		{"postgresql:app:S3CRETPW@db/settlements", "postgres://"},
		{"host=db user=app password=S3CRETPW dbname=settlements", "postgres://"},
		{"mysql://app:S3CRETPW@db/settlements", "unsupported scheme"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			setEnv(t, "STORE_DSN", tc.dsn)
			_, err := config.Load(all.Providers)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("Load accepted STORE_DSN=%s", tc.dsn)
			}
			msg := err.Error()
			if !strings.Contains(msg, "STORE_DSN") || !strings.Contains(msg, tc.want) {
				t.Errorf("error does not name STORE_DSN and say %q:\n%s", tc.want, msg)
			}
			if strings.Contains(msg, "S3CRETPW") {
				t.Errorf("error shows the password:\n%s", msg)
			}
		})
	}
}

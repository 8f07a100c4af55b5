package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/store"
)

// TestOpenErrorShowsNoDSNSecret: an error opening PostgreSQL names the
// STORE_DSN without its secrets, wherever the DSN carries them. Before,
// only the password in the user info was masked: one given as a query
// parameter (password=, which pgx reads, or sslpassword= for the client
// key) was printed in full by every operator command and the worker's
// start error, as soon as the database could not be reached.
func TestOpenErrorShowsNoDSNSecret(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://postgres:S3CRETPW@127.0.0.1:1/postgres?sslmode=disable",
		"postgres://postgres@127.0.0.1:1/postgres?password=S3CRETPW&sslmode=disable",
		"postgresql://postgres@127.0.0.1:1/postgres?sslmode=disable&password=S3CRETPW",
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&sslpassword=S3CRETPW",
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&password=S3CRETPW&password=S3CRETPW",
		"postgres://postgres@127.0.0.1:1/postgres?password=S3CRETPW&sslmode=bogus", // a parse error
	} {
		for _, ro := range []bool{false, true} {
			var opts []store.Option
			if ro {
				opts = append(opts, store.ReadOnly())
			}
			st, err := store.Open(ctx, dsn, opts...)
			if err == nil {
				st.Close()
				t.Fatalf("%s: opened", dsn)
			}
			if strings.Contains(err.Error(), "S3CRETPW") {
				t.Errorf("read-only %v: error shows the secret: %v", ro, err)
			}
			if !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("error does not name the database: %v", err)
			}
		}
	}
}

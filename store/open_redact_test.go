package store_test

import (
	"context"
	"os"
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

// TestOpenRefusesALibpqKeywordString: a STORE_DSN written as libpq's
// keyword/value string (host=… password=…) is not a URL, and Open took it
// for an SQLite path: it created a file of that name in the working
// directory and quoted the DSN, password included, in its errors, which
// the worker logs at start. It is refused with a clear answer that quotes
// nothing of it, and no file is created.
func TestOpenRefusesALibpqKeywordString(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{
		"host=127.0.0.1 port=1 user=postgres password=S3CRETPW dbname=settlements sslmode=disable",
		"dbname=settlements password='S3CRETPW'",
		"user=postgres PASSWORD=S3CRETPW host=db",
	} {
		for _, ro := range []bool{false, true} {
			var opts []store.Option
			if ro {
				opts = append(opts, store.ReadOnly())
			}
			st, err := store.Open(ctx, dsn, opts...)
			if err == nil {
				st.Close()
				t.Errorf("%q (read-only %v): opened", dsn, ro)
				continue
			}
			if strings.Contains(err.Error(), "S3CRETPW") {
				t.Errorf("read-only %v: error shows the password: %v", ro, err)
			}
			if !strings.Contains(err.Error(), "postgres://") {
				t.Errorf("read-only %v: error does not say how to write it: %v", ro, err)
			}
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("Open created %d files in the working directory, e.g. %q", len(ents), ents[0].Name())
	}
}

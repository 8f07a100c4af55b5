package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/store"
)

// TestOpenRefusesAPostgresURLWithoutSlashes: a STORE_DSN meant for
// PostgreSQL but written without the "//" of a URL (postgres:/…,
// postgres:user:…) has no "://", so Open took it for an SQLite path: it
// created the directories and a database file named after the DSN,
// password included, in the working directory, and the worker ran on that
// private file. Replicas configured so each settled on a store of its own:
// a request redelivered to another replica after one settled it was
// settled again (a second capture with Paysafe or Miva, which do not
// deduplicate). It is refused, quoting nothing of it, and no file is made.
func TestOpenRefusesAPostgresURLWithoutSlashes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{
		"postgres:/app:S3CRETPW@db:5432/settlements",
		"postgres:app:S3CRETPW@db/settlements",
		"postgresql:/app:S3CRETPW@db/settlements?sslmode=disable",
		"POSTGRES:/app:S3CRETPW@db/settlements",
		"postgres:",
	} {
		if err := store.CheckDSN(dsn); err == nil || !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "S3CRETPW") {
			t.Errorf("CheckDSN(%q) = %v; want a refusal saying postgres://, without the password", dsn, err)
		}
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
	// What Open reads stays accepted.
	for _, dsn := range []string{"postgres://app:pw@db/settlements", "postgresql://db/x", "sqlite:settlements.db",
		"file:settlements.db", "settlements.db", "/var/lib/settlement-worker/settlements.db", "postgres.db", ":memory:"} {
		if err := store.CheckDSN(dsn); err != nil {
			t.Errorf("CheckDSN(%q): %v", dsn, err)
		}
	}
}

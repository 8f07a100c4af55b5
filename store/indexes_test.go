package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// settlementsIndexReaders names, for each index of the settlements table,
// the statements that read it. An index no statement reads is pure cost:
// an entry per registration and, on PostgreSQL, per transition (an update
// of state and updated_at is never HOT, so it writes every index again).
var settlementsIndexReaders = map[string]string{
	"settlements_pkey":          "every read and write by key (PostgreSQL's name for the primary key)",
	"settlements_correlation":   "Find by correlation id (a provider's status)",
	"settlements_order":         "Find by order (the other settlements of an order)",
	"settlements_state_updated": "the sweeper and retention (state, updated_at)",
}

// TestEverySettlementsIndexHasAReader lists the indexes the migrations
// leave on settlements, in both dialects, and fails for one that no
// statement reads (settlementsIndexReaders).
func TestEverySettlementsIndexHasAReader(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, list string
		dsn        func(t *testing.T) string
	}{
		{"sqlite", `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'settlements'
			AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name`,
			func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "idx.db") }},
		{"postgres", `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'settlements' ORDER BY indexname`,
			func(t *testing.T) string { return testenv.PostgresDSN(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := Open(ctx, c.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			names, err := queryAll(ctx, st.(*sqlStore), func(r rowScanner) (string, error) {
				var n string
				return n, r.Scan(&n)
			}, c.list)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) == 0 {
				t.Fatal("no index listed")
			}
			for _, n := range names {
				if _, ok := settlementsIndexReaders[n]; !ok {
					t.Errorf("index %s on settlements: no statement reads it (settlementsIndexReaders); drop it in a migration, or name its reader", n)
				}
			}
			if c.name == "postgres" && !slices.Contains(names, "settlements_pkey") {
				t.Errorf("indexes %v: no settlements_pkey", names)
			}
		})
	}
}

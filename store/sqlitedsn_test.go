package store

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLiteDSNCannotTurnDurabilityOff: a _pragma in an SQLite STORE_DSN
// is one pragma, name(value) or name=value; anything else is refused at
// Open, a forced one (whatever its spelling, with or without a schema) is
// dropped, and the writer always has journal_mode=WAL, synchronous=FULL
// and foreign_keys on. Before, the forced pragmas were found by a prefix
// of the text, so "wal_autocheckpoint(1000); pragma synchronous=OFF" got
// through: modernc.org/sqlite runs the DSN's pragmas sorted by text, so
// that second statement ran after the store's synchronous(FULL) and every
// commit was acknowledged before it was fsync'd
// (TestReview2DSNPragmaCannotTurnDurabilityOff).
func TestSQLiteDSNCannotTurnDurabilityOff(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, pragma string
		refused      bool
		// want is a pragma the writer must then have, beside the forced
		// ones ("" none).
		want, wantValue string
	}{
		{"a second statement after an allowed pragma", "wal_autocheckpoint(1000); pragma synchronous=OFF", true, "", ""},
		{"a trailing semicolon", "cache_size(-4000);", true, "", ""},
		{"a comment", "cache_size(-4000) -- synchronous=OFF", true, "", ""},
		{"a nested call", "cache_size((1))", true, "", ""},
		{"a schema-qualified forced pragma", "main.synchronous(OFF)", false, "", ""},
		{"a forced pragma spelled otherwise", " Synchronous = OFF", false, "", ""},
		{"foreign keys off", "main.foreign_keys=0", false, "", ""},
		{"an allowed pragma", "cache_size(-4000)", false, "cache_size", "-4000"},
		{"an allowed pragma with a schema", "main.cache_size = -3000", false, "cache_size", "-3000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db") + "?_pragma=" + url.QueryEscape(c.pragma)
			st, err := Open(ctx, dsn)
			if c.refused {
				if err == nil {
					st.Close()
					t.Fatalf("Open with _pragma=%q: no error", c.pragma)
				}
				if !strings.Contains(err.Error(), "want one pragma") {
					t.Errorf("Open with _pragma=%q: %v; want it to say what a pragma may be", c.pragma, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open with _pragma=%q: %v", c.pragma, err)
			}
			defer st.Close()
			want := map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1"}
			if c.want != "" {
				want[c.want] = c.wantValue
			}
			err = st.(*sqlStore).w.do(ctx, func(ctx context.Context, q querier) error {
				for p, v := range want {
					var got string
					if err := q.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
						return err
					}
					if got != v {
						t.Errorf("writer: PRAGMA %s = %s, want %s", p, got, v)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCheckDurabilityRefusesWeakerSettings: Open's last check fails on a
// writer connection whose durability settings are not the forced ones,
// however they came to be.
func TestCheckDurabilityRefusesWeakerSettings(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ pragma, says string }{
		{"synchronous(OFF)", "synchronous"},
		{"synchronous(NORMAL)", "synchronous"},
		{"foreign_keys(0)", "foreign_keys"},
		{"journal_mode(DELETE)", "journal_mode"},
	} {
		t.Run(c.pragma, func(t *testing.T) {
			pragmas := map[string]string{"journal_mode": "journal_mode(WAL)", "synchronous": "synchronous(FULL)", "foreign_keys": "foreign_keys(1)"}
			pragmas[c.says] = c.pragma
			q := url.Values{}
			for _, p := range pragmas {
				q.Add("_pragma", p)
			}
			db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "s.db")+"?"+q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			if err := checkDurability(ctx, db, false); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("checkDurability with %s: %v, want an error naming %s", c.pragma, err, c.says)
			}
		})
	}
}

// TestSQLiteTempStore: the writer keeps savepoints' statement journals in
// memory (temp_store=MEMORY, no write(2) for a journal that spills), unless
// the DSN names temp_store itself.
func TestSQLiteTempStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		dsn, want string
	}{
		{"sqlite:" + filepath.Join(dir, "a", "s.db"), "2"},
		{"sqlite:" + filepath.Join(dir, "b", "s.db") + "?_pragma=temp_store(FILE)", "1"},
	} {
		st, err := Open(ctx, tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		err = st.(*sqlStore).w.do(ctx, func(ctx context.Context, q querier) error {
			var got string
			if err := q.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&got); err != nil {
				return err
			}
			if got != tc.want {
				t.Errorf("%s: writer's PRAGMA temp_store = %s, want %s", tc.dsn, got, tc.want)
			}
			return nil
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSQLiteReaderCache: the read-only pool's connections keep a small
// page cache (readerCacheKiB: WAL empties it at every read after a commit
// anyway), the writer SQLite's default, and a DSN naming cache_size sets
// both.
func TestSQLiteReaderCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		dsn                 string
		wantRead, wantWrite int
	}{
		{"sqlite:" + filepath.Join(dir, "a", "s.db"), readerCacheKiB, -2000},
		{"sqlite:" + filepath.Join(dir, "b", "s.db") + "?_pragma=cache_size(-4000)", -4000, -4000},
	} {
		st, err := Open(ctx, tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		s := st.(*sqlStore)
		var read, write int
		if err := s.db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&read); err != nil {
			t.Fatal(err)
		}
		err = s.w.do(ctx, func(ctx context.Context, q querier) error {
			return q.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&write)
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if read != tc.wantRead || write != tc.wantWrite {
			t.Errorf("%s: cache_size of a reader %d, of the writer %d; want %d and %d", tc.dsn, read, write, tc.wantRead, tc.wantWrite)
		}
	}
}

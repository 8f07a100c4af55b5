package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// oldSchemaDB is a database of the given backend at migration 4 (history
// lines in the settlement_transitions table), opened without the store,
// and the DSN that opens it with the store.
func oldSchemaDB(t *testing.T, kind string) (*sql.DB, string) {
	t.Helper()
	var db *sql.DB
	var dsn string
	var err error
	if kind == "sqlite" {
		path := filepath.Join(t.TempDir(), "old.db")
		dsn = "sqlite:" + path
		db, err = sql.Open("sqlite", path)
	} else {
		dsn = testenv.PostgresDSN(t)
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := loadMigrations(kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version > 4 {
			break
		}
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("migration %s: %v", m.name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES ($1, $2, '2026-01-01T00:00:00.000000Z')`, m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	return db, dsn
}

// TestHistoryAfterMigration5: after migration 5 the lines a
// settlement had in the settlement_transitions table are read as they
// were, in order, with their notes (quotes, a newline, non-ASCII) and
// times; transitions append to the history column; and a line an earlier
// version still writes to the table (a replica not yet upgraded, during a
// rolling upgrade) is read too, all in time order.
func TestHistoryAfterMigration5(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, dsn := oldSchemaDB(t, kind)
			at := func(ms int) any {
				tm := time.Date(2026, 1, 2, 3, 4, 5, ms*1000, time.UTC)
				if kind == "sqlite" {
					return formatTime(tm)
				}
				return tm
			}
			for _, id := range []string{"m1", "m2"} {
				if _, err := db.Exec(`INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
					VALUES ('acme', $1, 'submitting', $2, $2)`, id, at(3)); err != nil {
					t.Fatal(err)
				}
			}
			lines := []struct {
				id, from, to, note string
				at                 int
			}{
				{"m1", "", "received", "registered", 1},
				{"m2", "", "received", "registered", 1},
				{"m1", "received", "confirming", `funds "confirmed"` + "\nby é ✓ <&>", 2},
				{"m1", "confirming", "submitting", "attempt 1", 3},
			}
			for _, l := range lines {
				if _, err := db.Exec(`INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at)
					VALUES ('acme', $1, $2, $3, $4, $5)`, l.id, l.from, l.to, l.note, at(l.at)); err != nil {
					t.Fatal(err)
				}
			}

			now := time.Date(2026, 1, 2, 3, 4, 5, 9000, time.UTC)
			st, err := Open(ctx, dsn, WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			want := map[string]string{
				"m1": `>received:registered@1 received>confirming:funds "confirmed"` + "\nby é ✓ <&>@2 confirming>submitting:attempt 1@3",
				"m2": ">received:registered@1",
			}
			show := func(h []Transition) string {
				var out []string
				for _, tr := range h {
					out = append(out, fmt.Sprintf("%s>%s:%s@%d", tr.From, tr.To, tr.Note, tr.At.Nanosecond()/1000))
				}
				return strings.Join(out, " ")
			}
			for id, w := range want {
				h, err := st.History(ctx, Key{"acme", id})
				if err != nil {
					t.Fatal(err)
				}
				if got := show(h); got != w {
					t.Errorf("%s: history after the migration\n got  %s\n want %s", id, got, w)
				}
			}

			// A transition appends; a line an older replica writes to the
			// table is read in time order.
			if _, _, err := st.Transition(ctx, Key{"acme", "m1"}, []State{StateSubmitting}, StateAcknowledged, Change{Note: "ack"}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at)
				VALUES ('acme', 'm1', 'submitting', 'submitting', 'old replica', $1)`, at(5)); err != nil {
				t.Fatal(err)
			}
			h, err := st.History(ctx, Key{"acme", "m1"})
			if err != nil {
				t.Fatal(err)
			}
			got := show(h)
			if w := want["m1"] + " submitting>submitting:old replica@5 submitting>acknowledged:ack@9"; got != w {
				t.Errorf("history after a transition and an old replica's line\n got  %s\n want %s", got, w)
			}
			if !slices.IsSortedFunc(h, func(a, b Transition) int { return a.At.Compare(b.At) }) {
				t.Errorf("history not in time order: %s", got)
			}
		})
	}
}

// TestMergeByTime: two histories merge in time order, each keeping its own
// order, and at equal times the table's (older) line comes first.
func TestMergeByTime(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	line := func(note string, s int) Transition { return Transition{Note: note, At: at(s)} }
	for _, c := range []struct {
		name          string
		column, older []Transition
		want          string
	}{
		{"no older lines", []Transition{line("c1", 1), line("c2", 2)}, nil, "c1 c2"},
		{"only older lines", nil, []Transition{line("o1", 1), line("o2", 2)}, "o1 o2"},
		{"older first", []Transition{line("c1", 3)}, []Transition{line("o1", 1), line("o2", 2)}, "o1 o2 c1"},
		{"interleaved", []Transition{line("c1", 2), line("c2", 4)}, []Transition{line("o1", 1), line("o2", 3)}, "o1 c1 o2 c2"},
		{"equal times: older first", []Transition{line("c1", 1), line("c2", 1)}, []Transition{line("o1", 1)}, "o1 c1 c2"},
	} {
		var got []string
		for _, tr := range mergeByTime(c.column, c.older) {
			got = append(got, tr.Note)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: %s, want %s", c.name, g, c.want)
		}
	}
}

// oldHistory is History as versions before migration 5 read it: the
// settlement's rows of settlement_transitions, in id order.
func oldHistory(t *testing.T, db *sql.DB, key Key) []Transition {
	t.Helper()
	rows, err := db.Query(`SELECT from_state, to_state, note, at FROM settlement_transitions
		WHERE provider = $1 AND request_id = $2 ORDER BY id`, key.Provider, key.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Transition
	for rows.Next() {
		tr := Transition{Key: key}
		var from, to string
		if err := rows.Scan(&from, &to, &tr.Note, timeCol{t: &tr.At}); err != nil {
			t.Fatal(err)
		}
		tr.From, tr.To = State(from), State(to)
		out = append(out, tr)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadOnlyHistoryBeforeMigration5: an operator command of this
// version (a read-only store, which applies no migration) on a database
// no worker of this version has migrated yet (at migration 4: an SQLite
// file whose worker is stopped for the upgrade, or PostgreSQL before the
// first upgraded replica starts) reads every settlement's history as the
// version before did, from settlement_transitions.
func TestReadOnlyHistoryBeforeMigration5(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, dsn := oldSchemaDB(t, kind)
			at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
			var tm any = at
			if kind == "sqlite" {
				tm = formatTime(at)
				if _, err := db.Exec(`PRAGMA journal_mode = WAL`); err != nil { // as the store writes its files
					t.Fatal(err)
				}
			}
			if _, err := db.Exec(`INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
				VALUES ('acme', 'r1', 'confirming', $1, $1)`, tm); err != nil {
				t.Fatal(err)
			}
			for _, l := range [][2]string{{"", "received"}, {"received", "confirming"}} {
				if _, err := db.Exec(`INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at)
					VALUES ('acme', 'r1', $1, $2, 'n', $3)`, l[0], l[1], tm); err != nil {
					t.Fatal(err)
				}
			}
			want := oldHistory(t, db, Key{"acme", "r1"})
			ro, err := Open(ctx, dsn, ReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			got, err := ro.History(ctx, Key{"acme", "r1"})
			if err != nil {
				t.Fatalf("read-only History on a database at migration 4: %v", err)
			}
			if states(got) != states(want) || len(got) != 2 || !got[1].At.Equal(at) || got[1].Note != "n" {
				t.Errorf("read-only History on a database at migration 4 = %s (%v), want %s", states(got), got, states(want))
			}
		})
	}
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A settlement's history lives in its own row, in the history column: one
// JSON object per line, each ending in a newline,
//
//	{"from":"received","to":"confirming","note":"attempt 1","at":"2026-01-02T03:04:05.000000Z"}
//
// A registration writes its lines with the row, and a transition appends
// its lines in the UPDATE that moves the state (history = history || …):
// no statement, table or index of their own. Until migration 5 they were
// rows of settlement_transitions, written by a statement of their own,
// whose index, keyed by request id, took a page write of its own per
// transition (a third of SQLite's WAL frames per settlement when ids are
// random). The lines written before stay in that table, as do those a
// replica of an earlier version writes there during a rolling upgrade:
// History reads both. An earlier version's History (its `show`) reads
// only the table: it misses the lines of the column. The migration that
// drops the table must first move its lines into the column.

// historyInRowVersion is the migration that made the history column. A
// read-only store (operator commands, which apply no migration) on a
// database without it reads the history from settlement_transitions
// alone, as the versions before it did. It decides so when it opens: one
// that opened before a worker applied migration 5 and read after would
// miss the lines written to the column since, which an operator command's
// short life allows.
const historyInRowVersion = 5

// historyLine is one line of the history column.
type historyLine struct {
	From string `json:"from"`
	To   string `json:"to"`
	Note string `json:"note"`
	At   string `json:"at"`
}

// encodeHistory is lines, all at at, as the history column's text.
func encodeHistory(lines []histLine, at time.Time) string {
	var b strings.Builder
	appendHistory(&b, lines, at, true)
	return b.String()
}

// encodeHistoryTail is encodeHistory without the first line's opening
// `{"from":` and its from state: a PostgreSQL transition writes that
// part in SQL from the row's state (pgTransitionCTEs), which only the
// statement knows.
func encodeHistoryTail(lines []histLine, at time.Time) string {
	var b strings.Builder
	appendHistory(&b, lines, at, false)
	return b.String()
}

func appendHistory(b *strings.Builder, lines []histLine, at time.Time, firstFrom bool) {
	ts := formatTime(at)
	for i, l := range lines {
		if i > 0 || firstFrom {
			b.WriteString(`{"from":`)
			writeJSONString(b, string(l.from))
		}
		b.WriteString(`,"to":`)
		writeJSONString(b, string(l.to))
		b.WriteString(`,"note":`)
		writeJSONString(b, l.note)
		b.WriteString(`,"at":"`)
		b.WriteString(ts)
		b.WriteString("\"}\n")
	}
}

// decodeHistory reads key's history column text.
func decodeHistory(key Key, text string) ([]Transition, error) {
	var out []Transition
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		var l historyLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			return nil, fmt.Errorf("history line %d: %w", n+1, err)
		}
		at, err := time.Parse(time.RFC3339Nano, l.At)
		if err != nil {
			return nil, fmt.Errorf("history line %d: time %q: %w", n+1, l.At, err)
		}
		out = append(out, Transition{Key: key, From: State(l.From), To: State(l.To), Note: l.Note, At: at.UTC()})
	}
	return out, nil
}

// History returns a settlement's transitions, oldest first (none for an
// unknown key): the lines of its history column and those in
// settlement_transitions (written before migration 5, or by a replica of
// an earlier version during a rolling upgrade), merged in time order. A
// read-only store on a database without migration 5 reads the table alone
// (historyInRowVersion).
func (s *sqlStore) History(ctx context.Context, key Key) ([]Transition, error) {
	if unstorableKey(key) { // text.go: none can be stored
		return nil, nil
	}
	var out []Transition
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		if !s.historyInTable {
			var text string
			err := q.QueryRowContext(ctx, `SELECT history FROM settlements WHERE provider = $1 AND request_id = $2`,
				key.Provider, key.RequestID).Scan(&text)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			} else if err != nil {
				return err
			}
			if out, err = decodeHistory(key, text); err != nil {
				return err
			}
		}
		rows, err := q.QueryContext(ctx, `SELECT from_state, to_state, note, at FROM settlement_transitions
			WHERE provider = $1 AND request_id = $2 ORDER BY id`, key.Provider, key.RequestID)
		if err != nil {
			return err
		}
		defer rows.Close()
		var legacy []Transition
		for rows.Next() {
			tr := Transition{Key: key}
			var from, to string
			if err := rows.Scan(&from, &to, &tr.Note, timeCol{t: &tr.At}); err != nil {
				return err
			}
			tr.From, tr.To = State(from), State(to)
			legacy = append(legacy, tr)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		out = mergeByTime(out, legacy)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: history of %s: %w", keyText(key), err)
	}
	return out, nil
}

// mergeByTime merges two histories, each in its own order, into one in
// time order; at equal times older's line comes first (the table's lines
// were mostly written before the column's).
func mergeByTime(column, older []Transition) []Transition {
	if len(older) == 0 {
		return column
	}
	out := make([]Transition, 0, len(column)+len(older))
	for len(column) > 0 && len(older) > 0 {
		if column[0].At.Before(older[0].At) {
			out, column = append(out, column[0]), column[1:]
		} else {
			out, older = append(out, older[0]), older[1:]
		}
	}
	return append(append(out, column...), older...)
}

package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Counts returns the number of settlements per provider and state, with how
// many of them are parked, the oldest updated_at, and the oldest updated_at
// and created_at of those not parked, ordered by provider and state; only
// of the given states when any are given. All states scan the table: it is
// for operator commands and metrics scrapes (cached), not the pipeline.
// The non-final states are read through the (state, updated_at) index: few
// rows, whatever the table's size.
func (s *sqlStore) Counts(ctx context.Context, states ...State) ([]StateCount, error) {
	where := ""
	args := make([]any, len(states))
	if len(states) > 0 {
		marks := make([]string, len(states))
		for i, st := range states {
			args[i] = string(st)
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		where = ` WHERE state IN (` + strings.Join(marks, ", ") + `)`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT provider, state, COUNT(*),
		SUM(CASE WHEN parked_reason <> '' THEN 1 ELSE 0 END), MIN(updated_at),
		MIN(CASE WHEN parked_reason = '' THEN updated_at END), MIN(CASE WHEN parked_reason = '' THEN created_at END)
		FROM settlements`+where+` GROUP BY provider, state ORDER BY provider, state`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	var out []StateCount
	for rows.Next() {
		var c StateCount
		var state string
		var count, parked int64
		var unparked, unparkedCreated *time.Time
		if err := rows.Scan(&c.Provider, &state, &count, &parked, timeCol{t: &c.OldestUpdate}, timeCol{nullable: &unparked},
			timeCol{nullable: &unparkedCreated}); err != nil {
			return nil, fmt.Errorf("store: counts: %w", err)
		}
		if unparked != nil {
			c.OldestUnparked = *unparked
		}
		if unparkedCreated != nil {
			c.OldestUnparkedCreated = *unparkedCreated
		}
		c.State, c.Count, c.Parked = State(state), int(count), int(parked)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	return out, nil
}

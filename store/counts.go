package store

import (
	"context"
	"fmt"
)

// Counts returns the number of settlements per provider and state, with how
// many of them are parked and the oldest updated_at, ordered by provider and
// state. It scans the table: it is for operator commands, not the pipeline.
func (s *sqlStore) Counts(ctx context.Context) ([]StateCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT provider, state, COUNT(*),
		SUM(CASE WHEN parked_reason <> '' THEN 1 ELSE 0 END), MIN(updated_at)
		FROM settlements GROUP BY provider, state ORDER BY provider, state`)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	var out []StateCount
	for rows.Next() {
		var c StateCount
		var state string
		var count, parked int64
		if err := rows.Scan(&c.Provider, &state, &count, &parked, timeCol{t: &c.OldestUpdate}); err != nil {
			return nil, fmt.Errorf("store: counts: %w", err)
		}
		c.State, c.Count, c.Parked = State(state), int(count), int(parked)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	return out, nil
}

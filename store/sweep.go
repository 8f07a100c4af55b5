package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Stale returns the settlements in one of states that are not parked and
// were last updated before before, oldest update first, at most limit
// (all when limit <= 0). The sweeper reads it to find settlements that
// wait past their state's deadline.
func (s *sqlStore) Stale(ctx context.Context, states []State, before time.Time, limit int) ([]Settlement, error) {
	if len(states) == 0 {
		return nil, nil
	}
	args := []any{s.d.timeArg(normTime(before))}
	marks := make([]string, len(states))
	for i, st := range states {
		args = append(args, string(st))
		marks[i] = fmt.Sprintf("$%d", len(args))
	}
	query := `SELECT ` + settlementColumns + ` FROM settlements
		WHERE updated_at < $1 AND parked_reason = '' AND state IN (` + strings.Join(marks, ", ") + `)
		ORDER BY updated_at, request_id`
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	out, err := queryAll(ctx, s, scanSettlement, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: stale settlements: %w", err)
	}
	return out, nil
}

// Unpublished returns the status events never confirmed as published
// (published_at unset) that were recorded before before, oldest first, at
// most limit (all when limit <= 0): the outbox the sweeper relays.
func (s *sqlStore) Unpublished(ctx context.Context, before time.Time, limit int) ([]StatusEvent, error) {
	query := `SELECT ` + statusColumns + ` FROM status_events
		WHERE published_at IS NULL AND created_at < $1 ORDER BY created_at, provider, request_id, seq`
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	out, err := queryAll(ctx, s, scanStatus, query, s.d.timeArg(normTime(before)))
	if err != nil {
		return nil, fmt.Errorf("store: unpublished events: %w", err)
	}
	return out, nil
}

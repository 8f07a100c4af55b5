package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Stale returns the settlements of providers (any when empty) in one of
// states that are not parked and were last updated before before, after
// after in their order (updated_at, provider, request_id), oldest update
// first, at most limit (all when limit <= 0). The sweeper reads it to find
// settlements that wait past their state's deadline, for the providers it
// runs: filtered here, before the limit, so that the oldest rows of a
// provider it does not run cannot fill every batch; and a page at a time
// after a cursor, so that rows it cannot handle (a parked copy the broker
// refuses) cannot either. Both backends read settlements_state_updated
// (state, updated_at), the provider a filter on the rows found
// (TestPostgresGenericPlansUseTheRightIndex,
// TestSQLiteStaleReadsTheStateIndex).
func (s *sqlStore) Stale(ctx context.Context, providers []string, states []State, before time.Time, after StaleCursor, limit int) ([]Settlement, error) {
	if len(states) == 0 {
		return nil, nil
	}
	query, args := staleQuery(len(providers), len(states), !after.IsZero(), limit)
	args[0] = s.d.timeArg(normTime(before))
	for i, p := range providers {
		args[1+i] = p
	}
	for i, st := range states {
		args[1+len(providers)+i] = string(st)
	}
	if !after.IsZero() {
		n := 1 + len(providers) + len(states)
		args[n], args[n+1], args[n+2] = s.d.timeArg(normTime(after.UpdatedAt)), after.Provider, after.RequestID
	}
	out, err := queryAll(ctx, s, scanSettlement, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: stale settlements: %w", err)
	}
	return out, nil
}

// staleQuery is Stale's statement for this many providers (none: any)
// and states, after a cursor or not, and a slice for its arguments: $1
// the time, then the providers, then the states, then the cursor's
// updated_at, provider and request id.
func staleQuery(providers, states int, cursor bool, limit int) (string, []any) {
	n := 1
	marks := func(k int) string {
		m := make([]string, k)
		for i := range m {
			n++
			m[i] = fmt.Sprintf("$%d", n)
		}
		return strings.Join(m, ", ")
	}
	query := `SELECT ` + settlementColumns + ` FROM settlements
		WHERE updated_at < $1 AND parked_reason = ''`
	if providers > 0 {
		// provider || '': a filter on the rows the state index finds, never
		// an index condition. Otherwise both SQLite (no statistics) and a
		// generic plan on a young PostgreSQL table read the primary key by
		// provider: every settlement of the providers, finished ones
		// included.
		query += ` AND provider || '' IN (` + marks(providers) + `)`
	}
	query += ` AND state IN (` + marks(states) + `)`
	if cursor {
		// updated_at a range on the state index; the key (never an index
		// condition, as above) only orders the rows of one instant.
		at := n + 1
		n += 3
		query += fmt.Sprintf(` AND updated_at >= $%d AND (updated_at > $%d OR (provider || '', request_id || '') > ($%d, $%d))`, at, at, at+1, at+2)
	}
	query += ` ORDER BY updated_at, provider, request_id`
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	return query, make([]any, n)
}

// Unpublished returns the status events never confirmed as published
// (published_at unset) that were recorded before before and come after
// after in the outbox's order (created_at, provider, request_id, seq),
// oldest first, at most limit (all when limit <= 0): the outbox the
// sweeper relays a page at a time. The cursor's created_at is a range on
// status_events_unpublished; the rest of it only orders the events of one
// instant.
func (s *sqlStore) Unpublished(ctx context.Context, before time.Time, after OutboxCursor, limit int) ([]StatusEvent, error) {
	query := `SELECT ` + statusColumns + ` FROM status_events
		WHERE published_at IS NULL AND created_at < $1`
	args := []any{s.d.timeArg(normTime(before))}
	if !after.IsZero() {
		query += ` AND created_at >= $2 AND (created_at > $2 OR (provider, request_id, seq) > ($3, $4, $5))`
		args = append(args, s.d.timeArg(normTime(after.CreatedAt)), after.Provider, after.RequestID, after.Seq)
	}
	query += ` ORDER BY created_at, provider, request_id, seq`
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	out, err := queryAll(ctx, s, scanStatus, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: unpublished events: %w", err)
	}
	return out, nil
}

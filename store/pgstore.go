package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PostgreSQL is bound by round trips, not by statement cost: each is a
// network exchange with a server shared by every replica. So its writes
// are single statements where the SQL allows it — a data-modifying CTE runs
// the compare-and-set, the row lock, the update and the history line in one
// statement, which PostgreSQL runs atomically (one implicit transaction,
// no BEGIN and COMMIT round trips). SQLite, in-process, keeps the plain
// statements in its group-committed transactions (sqlitewriter.go).

// settlementColumnsOf is settlementColumns qualified with a table alias.
func settlementColumnsOf(alias string) string {
	cols := strings.Split(settlementColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// pgRegister is Register on PostgreSQL: the insert, its history line and
// the stored row in one statement. A row inserted concurrently by another
// session after this statement's snapshot is neither inserted (conflict)
// nor visible; it is then read again.
func (s *sqlStore) pgRegister(ctx context.Context, in Settlement, headers string, state State, attempts int, refs, decline, parked string, lines []histLine) (Settlement, bool, error) {
	now := s.now()
	froms, tos, notes := histArrays(lines)
	var created bool
	st, err := scanCreated(s.db.QueryRowContext(ctx, `WITH ins AS (
		INSERT INTO settlements (`+settlementColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $17, $18, $19, $20, $13, $14, $15, $16, $16)
		ON CONFLICT (provider, request_id) DO NOTHING
		RETURNING `+settlementColumns+`
	), hist AS (
		INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at)
		SELECT ins.provider, ins.request_id, h.f, h.t, h.n, ins.created_at
		FROM ins, unnest($21::text[], $22::text[], $23::text[]) WITH ORDINALITY AS h(f, t, n, i)
		ORDER BY h.i
	)
	SELECT true, `+settlementColumns+` FROM ins
	UNION ALL
	SELECT false, `+settlementColumnsOf("s")+` FROM settlements s
	WHERE s.provider = $1 AND s.request_id = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
		in.Provider, in.RequestID, in.Fingerprint, in.StoreID, in.OrderID, in.TenderType,
		in.SettlementType, in.Amount, in.Currency, in.ClientContext, in.CorrelationID, string(state),
		in.Request, in.ContentType, headers, now, attempts, refs, decline, parked,
		froms, tos, notes), &created)
	if errors.Is(err, sql.ErrNoRows) {
		// Inserted by another session after this statement's snapshot.
		st, err = s.get(ctx, s.db, in.Key)
		return st, false, err
	}
	return st, created, err
}

// histArrays are history lines as three parallel arrays (unnest).
func histArrays(lines []histLine) (froms, tos, notes []string) {
	for _, l := range lines {
		froms = append(froms, string(l.from))
		tos = append(tos, string(l.to))
		notes = append(notes, l.note)
	}
	return froms, tos, notes
}

// scanCreated scans a boolean column, then a settlement.
func scanCreated(r *sql.Row, flag *bool) (Settlement, error) {
	var st Settlement
	err := scanSettlementInto(r, &st, flag)
	return st, err
}

// pgTransition is transitionTx on PostgreSQL in one statement on q (the
// pool, autocommit, or a transaction): the row is locked (FOR UPDATE) and
// compared, updated with ch merged in SQL (refs: the JSON objects merged,
// new keys winning), and its history line inserted, all or nothing.
func (s *sqlStore) pgTransition(ctx context.Context, q querier, key Key, from []State, to State, ch Change, now time.Time) (Settlement, error) {
	refs := ""
	if len(ch.Refs) > 0 {
		var err error
		if refs, err = encodeMap(ch.Refs); err != nil {
			return Settlement{}, fmt.Errorf("refs: %w", err)
		}
	}
	var decline, parked string
	if ch.DeclineReason != nil {
		decline = *ch.DeclineReason
	}
	if ch.ParkedReason != nil {
		parked = *ch.ParkedReason
	}
	inc := 0
	if ch.IncAttempts {
		inc = 1
	}
	froms, tos, notes := histArrays(historyLines("", to, ch)) // froms[0] is the row's state
	fromStates := make([]string, len(from))
	for i, f := range from {
		fromStates[i] = string(f)
	}
	// $12: no from states means any state.
	row := q.QueryRowContext(ctx, `WITH old AS (
		SELECT `+settlementColumns+` FROM settlements WHERE provider = $1 AND request_id = $2 FOR UPDATE
	), upd AS (
		UPDATE settlements s SET state = $3, attempts = s.attempts + $4,
			refs = CASE WHEN $5::text = '' THEN s.refs ELSE (s.refs::jsonb || $5::jsonb)::text END,
			decline_reason = CASE WHEN $6 THEN $7 ELSE s.decline_reason END,
			parked_reason = CASE WHEN $8 THEN $9 ELSE s.parked_reason END,
			updated_at = $10
		FROM old
		WHERE s.provider = $1 AND s.request_id = $2 AND (cardinality($12::text[]) = 0 OR s.state = ANY($12::text[]))
		RETURNING old.state AS from_state, `+settlementColumnsOf("s")+`
	), hist AS (
		INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at)
		SELECT $1, $2, CASE WHEN h.i = 1 THEN upd.from_state ELSE h.f END, h.t, h.n, $10
		FROM upd, unnest($13::text[], $14::text[], $11::text[]) WITH ORDINALITY AS h(f, t, n, i)
		ORDER BY h.i
	)
	SELECT true, `+settlementColumns+` FROM upd
	UNION ALL
	SELECT false, `+settlementColumns+` FROM old WHERE NOT EXISTS (SELECT 1 FROM upd)`,
		key.Provider, key.RequestID, string(to), inc, refs, ch.DeclineReason != nil, decline,
		ch.ParkedReason != nil, parked, now, notes, fromStates, froms, tos)
	var moved bool
	var st Settlement
	err := scanSettlementInto(row, &st, &moved)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Settlement{}, fmt.Errorf("%w: %s/%s", ErrNotFound, key.Provider, key.RequestID)
	case err != nil:
		return Settlement{}, err
	case !moved:
		return Settlement{}, fmt.Errorf("%w: %s/%s is %s, not %v", ErrStateConflict, key.Provider, key.RequestID, st.State, from)
	}
	return st, nil
}

// pgRecordStatus is recordStatus on PostgreSQL in one statement: the
// existing event with ev's DedupKey, or ev inserted as the settlement's
// next event (the settlement row is locked by the caller's transaction, so
// no other transaction can take the seq).
func (s *sqlStore) pgRecordStatus(ctx context.Context, tx querier, key Key, ev StatusEvent, now time.Time) (*StatusEvent, error) {
	if ev.MessageID == "" {
		ev.MessageID = newMessageID()
	}
	dedup := ev.DedupKey
	if dedup == "" {
		dedup = ev.MessageID
	}
	out, err := scanStatus(tx.QueryRowContext(ctx, `WITH dup AS (
		SELECT `+statusColumns+` FROM status_events
		WHERE provider = $1 AND request_id = $2 AND dedup_key = $3 AND $7
	), ins AS (
		INSERT INTO status_events (`+statusColumns+`)
		SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $8, NULL FROM status_events
		WHERE provider = $1 AND request_id = $2
		HAVING NOT EXISTS (SELECT 1 FROM dup)
		RETURNING `+statusColumns+`
	)
	SELECT `+statusColumns+` FROM ins
	UNION ALL
	SELECT `+statusColumns+` FROM dup`,
		key.Provider, key.RequestID, dedup, ev.MessageID, ev.SettlementStatus, ev.Body, ev.DedupKey != "", now))
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// pg reports whether the store is PostgreSQL.
func (s *sqlStore) pg() bool { return s.d.name == postgresDialect.name }

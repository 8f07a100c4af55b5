package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL is bound by round trips, not by statement cost: each is a
// network exchange with a server shared by every replica. So its writes
// are single statements where the SQL allows it — a data-modifying CTE runs
// the compare-and-set, the row lock, the update, the history line and the
// status event (a terminal transition's) in one statement, which PostgreSQL
// runs atomically (one implicit transaction, no BEGIN and COMMIT round
// trips). SQLite, in-process, keeps the plain
// statements in its group-committed transactions (sqlitewriter.go).

// settlementColumnsOf is settlementColumns qualified with a table alias.
func settlementColumnsOf(alias string) string { return columnsOf(alias, settlementColumns) }

// columnsOf is a list of columns (settlementColumns, statusColumns)
// qualified with a table alias.
func columnsOf(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// pgRegister is Register on PostgreSQL: the insert, with its history lines
// (history.go), and the stored row in one statement. A row inserted
// concurrently by another session after this statement's snapshot is
// neither inserted (conflict) nor visible; it is then read again.
func (s *sqlStore) pgRegister(ctx context.Context, in Settlement, headers string, state State, attempts int, refs, decline, parked string, lines []histLine) (Settlement, bool, error) {
	now := s.now()
	var created bool
	st, err := scanCreated(s.db.QueryRowContext(ctx, `WITH ins AS (
		INSERT INTO settlements (`+settlementColumns+`, history)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $17, $18, $19, $20, $13, $14, $15, $16, $16, $21)
		ON CONFLICT (provider, request_id) DO NOTHING
		RETURNING `+settlementColumns+`
	)
	SELECT true, `+settlementColumns+` FROM ins
	UNION ALL
	SELECT false, `+settlementColumnsOf("s")+` FROM settlements s
	WHERE s.provider = $1 AND s.request_id = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
		in.Provider, in.RequestID, in.Fingerprint, in.StoreID, in.OrderID, in.TenderType,
		in.SettlementType, in.Amount, in.Currency, in.ClientContext, in.CorrelationID, string(state),
		in.Request, in.ContentType, headers, now, attempts, refs, decline, parked,
		encodeHistory(lines, now)), &created)
	if errors.Is(err, sql.ErrNoRows) {
		// Inserted by another session after this statement's snapshot.
		st, err = s.get(ctx, s.db, in.Key)
		return st, false, err
	}
	return st, created, err
}

// scanCreated scans a boolean column, then a settlement.
func scanCreated(r *sql.Row, flag *bool) (Settlement, error) {
	var st Settlement
	err := scanSettlementInto(r, &st, flag)
	return st, err
}

// pgTransitionCTEs are the common table expressions of pgTransitionSQL
// and pgTransitionEventSQL: the row locked (FOR UPDATE) and compared (old),
// and updated with the change merged in SQL (upd: refs are the JSON objects
// merged, new keys winning; the history lines appended, history.go). $1
// and $2 are the key, $3 the target state, $4 the attempts to add, $5 the
// refs to merge (” none), $6 to $9 whether to set and the decline and
// parked reasons, $10 the time, $11 the history lines after the first
// line's from state (encodeHistoryTail: that state is the row's, written
// here), $12 the from states (none: any state), $13 and $14 the refs
// compared and their values (ch.IfRefs), $15 the attempts compared
// (ch.IfAttempts; 0: not compared), $16 whether the row must not be
// parked (ch.IfNotParked).
//
// The refs are compared by a scalar subquery, never NOT EXISTS: the
// planner turns NOT EXISTS into an anti-join, and when the row was
// changed by a transaction that committed after this statement's snapshot
// (READ COMMITTED: the statement waited for its row lock), PostgreSQL's
// recheck of the newest row (EvalPlanQual) reuses the anti-join's first
// answer instead of comparing the newest refs: two replicas resubmitting
// one settlement both recorded their call, and both called the provider
// (TestPostgresReplicasCompareAndSetAfterAConcurrentCommit). A scalar
// subquery is a filter on the row, evaluated again on the newest one.
var pgTransitionCTEs = `WITH old AS (
		SELECT ` + settlementColumns + ` FROM settlements WHERE provider = $1 AND request_id = $2 FOR UPDATE
	), upd AS (
		UPDATE settlements s SET state = $3, attempts = s.attempts + $4,
			refs = CASE WHEN $5::text = '' THEN s.refs ELSE (s.refs::jsonb || $5::jsonb)::text END,
			decline_reason = CASE WHEN $6 THEN $7 ELSE s.decline_reason END,
			parked_reason = CASE WHEN $8 THEN $9 ELSE s.parked_reason END,
			updated_at = $10,
			history = s.history || '{"from":' || to_json(s.state)::text || $11::text
		FROM old
		WHERE s.provider = $1 AND s.request_id = $2 AND (cardinality($12::text[]) = 0 OR s.state = ANY($12::text[]))
			AND (SELECT count(*) FROM unnest($13::text[], $14::text[]) AS c(k, v)
				WHERE coalesce(s.refs::jsonb ->> c.k, '') <> c.v) = 0
			AND ($15::int = 0 OR s.attempts = $15::int)
			AND (NOT $16::boolean OR s.parked_reason = '')
		RETURNING ` + settlementColumnsOfS + `
	)`

// settlementColumnsOfS is settlementColumnsOf("s"), computed once.
var settlementColumnsOfS = settlementColumnsOf("s")

// pgTransitionSQL is a transition without a status event: true and the
// updated row, or false and the row as it is (the compare failed), or no
// row (no such settlement).
var pgTransitionSQL = pgTransitionCTEs + `
	SELECT true, ` + settlementColumns + ` FROM upd
	UNION ALL
	SELECT false, ` + settlementColumns + ` FROM old WHERE NOT EXISTS (SELECT 1 FROM upd)`

// pgTransitionEventSQL is a transition with its status event, in one
// statement: pgTransitionSQL's row with the event's columns first (before
// the settlement's). The event is the settlement's existing one with the
// DedupKey $17 when $21 (ev has a DedupKey) and there is one (dup), or the
// new one inserted (ins) with the next seq, message id $18 and dedup key
// $17 (the message id when ev had no DedupKey), status $19, body $20,
// created at $10. On a failed compare the event's columns are
// placeholders, and nothing is inserted (ins reads upd).
//
// dup and the next seq are read in the statement's snapshot, taken before
// the row lock: what a transaction that held the lock and committed after
// that snapshot recorded is not seen. Such a transaction's event took the
// seq the snapshot gives as next, so the insert then fails on the primary
// key (or the DedupKey's unique index): a unique violation, on which
// transition runs the transaction pgTransition and pgRecordStatus make,
// whose later statement sees it (pgTransitionEvent).
var pgTransitionEventSQL = pgTransitionCTEs + `, dup AS (
		SELECT ` + statusColumns + ` FROM status_events
		WHERE provider = $1 AND request_id = $2 AND dedup_key = $17 AND $21
	), ins AS (
		INSERT INTO status_events (` + statusColumns + `)
		SELECT $1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM status_events WHERE provider = $1 AND request_id = $2),
			$17, $18, $19, $20::bytea, $10, NULL
		FROM upd WHERE NOT EXISTS (SELECT 1 FROM dup)
		RETURNING ` + statusColumns + `
	), ev AS (
		SELECT ` + statusColumns + ` FROM ins
		UNION ALL
		SELECT ` + statusColumns + ` FROM dup
	)
	SELECT true, ` + columnsOf("ev", statusColumns) + `, ` + columnsOf("upd", settlementColumns) + ` FROM upd, ev
	UNION ALL
	SELECT false, $1, $2, 0, '', '', '', NULL::bytea, $10, NULL, ` + columnsOf("old", settlementColumns) + `
	FROM old WHERE NOT EXISTS (SELECT 1 FROM upd)`

// pgTransitionArgs are the parameters $1 to $16 of pgTransitionCTEs.
func pgTransitionArgs(key Key, from []State, to State, ch Change, now time.Time, extra int) []any {
	refs := ""
	if len(ch.Refs) > 0 {
		refs = encodeMap(ch.Refs)
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
	fromStates := make([]string, len(from))
	for i, f := range from {
		fromStates[i] = string(f)
	}
	ifKeys, ifValues := make([]string, 0, len(ch.IfRefs)), make([]string, 0, len(ch.IfRefs))
	for k, v := range ch.IfRefs {
		ifKeys, ifValues = append(ifKeys, k), append(ifValues, v)
	}
	args := make([]any, 0, 16+extra)
	return append(args, key.Provider, key.RequestID, string(to), inc, refs, ch.DeclineReason != nil, decline,
		ch.ParkedReason != nil, parked, now, encodeHistoryTail(historyLines("", to, ch), now), fromStates, ifKeys, ifValues, max(ch.IfAttempts, 0),
		ch.IfNotParked)
}

// pgTransitionResult is the error of a transition statement with change
// ch whose row was scanned with err and moved (the settlement st).
func pgTransitionResult(key Key, from []State, ch Change, st Settlement, moved bool, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s", ErrNotFound, keyText(key))
	case err != nil:
		return err
	case !moved && ch.IfNotParked && st.ParkedReason != "":
		return fmt.Errorf("%w: %s is parked", ErrStateConflict, keyText(key))
	case !moved && (len(from) == 0 || slices.Contains(from, st.State)):
		return fmt.Errorf("%w: %s: its refs or attempts changed", ErrStateConflict, keyText(key))
	case !moved:
		return fmt.Errorf("%w: %s is %s, not %v", ErrStateConflict, keyText(key), st.State, from)
	}
	return nil
}

// pgTransition is transitionTx on PostgreSQL without a status event, in
// one statement on q (the pool, autocommit, or a transaction): the row is
// locked (FOR UPDATE) and compared, and updated with ch merged in SQL and
// its history lines appended, all or nothing (pgTransitionSQL).
func (s *sqlStore) pgTransition(ctx context.Context, q querier, key Key, from []State, to State, ch Change, now time.Time) (Settlement, error) {
	args := pgTransitionArgs(key, from, to, ch, now, 0)
	var moved bool
	var st Settlement
	err := scanSettlementInto(q.QueryRowContext(ctx, pgTransitionSQL, args...), &st, &moved)
	if err := pgTransitionResult(key, from, ch, st, moved, err); err != nil {
		return Settlement{}, err
	}
	return st, nil
}

// pgTransitionEvent is Transition with a status event on PostgreSQL: one
// statement (pgTransitionEventSQL), without BEGIN and COMMIT, where
// pgTransition and pgRecordStatus in a transaction take four round trips.
// It returns the same settlement, event and errors. When the statement
// fails with a unique violation — a message_id already taken, a
// settlement's own DedupKey taken by a message id without one, or a
// transaction that recorded an event after this statement's snapshot
// (see pgTransitionEventSQL) — nothing was written, and the transaction
// runs instead: it returns today's error, or, after a concurrent event,
// the event recorded after it (or the one with its DedupKey).
func (s *sqlStore) pgTransitionEvent(ctx context.Context, key Key, from []State, to State, ch Change, status StatusEvent) (Settlement, *StatusEvent, error) {
	ev := status
	if ev.MessageID == "" {
		ev.MessageID = newMessageID()
	}
	dedup := ev.DedupKey
	if dedup == "" {
		dedup = ev.MessageID
	}
	args := pgTransitionArgs(key, from, to, ch, s.now(), 5)
	args = append(args, dedup, ev.MessageID, ev.SettlementStatus, ev.Body, ev.DedupKey != "")
	var moved bool
	var st Settlement
	var out StatusEvent
	err := scanSettlementInto(s.db.QueryRowContext(ctx, pgTransitionEventSQL, args...), &st, &moved,
		&out.Provider, &out.RequestID, &out.Seq, &out.DedupKey, &out.MessageID, &out.SettlementStatus,
		&out.Body, timeCol{t: &out.CreatedAt}, timeCol{nullable: &out.PublishedAt})
	if isUniqueViolation(err) { // rare: the transaction (see above)
		var next Settlement
		var evp *StatusEvent
		err := s.writeTx(ctx, func(ctx context.Context, q querier) error {
			var err error
			next, evp, err = s.transitionTx(ctx, q, key, from, to, ch, &status)
			return err
		})
		if err != nil {
			return Settlement{}, nil, err
		}
		return next, evp, nil
	}
	if err := pgTransitionResult(key, from, ch, st, moved, err); err != nil {
		return Settlement{}, nil, err
	}
	return st, &out, nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// pgRecordStatus is recordStatus on PostgreSQL in one statement: the
// existing event with ev's DedupKey, or ev inserted as the settlement's
// next event (the settlement row is locked by the caller's transaction, so
// no other transaction can take the seq). It runs only on
// pgTransitionEvent's rare path, after pgTransition in a transaction.
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

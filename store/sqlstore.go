package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// dialect is what differs between the SQLite and PostgreSQL backends; the
// statements are otherwise the same ($N placeholders work in both).
type dialect struct {
	name string
	// timeArg turns a UTC time into a query argument.
	timeArg func(time.Time) any
	// advisoryLocks makes LockOrder take a PostgreSQL advisory lock.
	advisoryLocks bool
}

var (
	sqliteDialect = dialect{
		name:    "sqlite",
		timeArg: func(t time.Time) any { return formatTime(t) },
	}
	postgresDialect = dialect{
		name:          "postgres",
		timeArg:       func(t time.Time) any { return t },
		advisoryLocks: true,
	}
)

// timeLayout is how SQLite stores times: UTC, fixed width, so that text order
// is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// normTime is the precision both backends keep: UTC, microseconds.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeCol scans a time column of either backend into a UTC time; a NULL
// leaves *nullable nil (when set) or fails.
type timeCol struct {
	t        *time.Time
	nullable **time.Time
}

func (c timeCol) Scan(v any) error {
	var t time.Time
	switch x := v.(type) {
	case nil:
		if c.nullable != nil {
			*c.nullable = nil
			return nil
		}
		return errors.New("store: unexpected NULL time")
	case time.Time:
		t = x
	case string:
		p, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return fmt.Errorf("store: bad time %q: %w", x, err)
		}
		t = p
	case []byte:
		p, err := time.Parse(time.RFC3339Nano, string(x))
		if err != nil {
			return fmt.Errorf("store: bad time %q: %w", x, err)
		}
		t = p
	default:
		return fmt.Errorf("store: cannot scan %T into a time", v)
	}
	t = normTime(t)
	if c.nullable != nil {
		*c.nullable = &t
	} else {
		*c.t = t
	}
	return nil
}

type sqlStore struct {
	db    *sql.DB
	d     dialect
	clock func() time.Time
	// readOnly: opened with ReadOnly (no migrations).
	readOnly bool
	// historyInTable: opened with ReadOnly on a database without
	// migration 5, whose history is all in settlement_transitions
	// (history.go).
	historyInTable bool
	locks          keyedMutex
	// w is SQLite's writer: every write transaction runs on its one
	// pinned connection (nil for PostgreSQL).
	w *sqliteWriter
	// rows are SQLite's rows as this process last wrote them (rowCache),
	// touched only on w's goroutine (nil for PostgreSQL).
	rows *rowCache
	// rstmts caches the prepared statements of SQLite's read-only pool,
	// which db then is (nil for PostgreSQL and ":memory:", whose reads go
	// through the writer).
	rstmts *stmtCache
	// keys tells which keys SQLite's settlements table may hold, so that
	// Get answers a key never registered without a query (keyfilter.go;
	// nil for PostgreSQL, read-only opens and tables above
	// keyFilterMaxRows).
	keys *keyFilter
	// readWrap, when set (tests), wraps the querier every read off the
	// writer is given (to count its statements), as the writer's wrap does
	// for writes and for ":memory:"'s reads. Set it before the first read.
	readWrap func(querier) querier
	// release drops the SQLite file lock (nil for PostgreSQL).
	release func()
	// held are the order locks this store holds, by orderKey, for
	// CheckLock.
	heldMu sync.Mutex
	held   map[string]heldLock
	// lockDB is PostgreSQL's pool of order-lock sessions, apart from db's
	// statement sessions (nil for SQLite, whose order locks are in-process).
	lockDB *sql.DB
	// pgl holds PostgreSQL's order locks on a few of those sessions (made
	// once, by pgLocks).
	pglOnce sync.Once
	pgl     *pgLocks
}

// heldLock is an order lock LockOrder took: with PostgreSQL, the session
// holding its advisory lock (pglocks.go); zero for SQLite's in-process
// lock.
type heldLock struct {
	sess *lockSession
}

func newSQLStore(db *sql.DB, d dialect, o options) *sqlStore {
	return &sqlStore{db: db, d: d, clock: o.clock, readOnly: o.readOnly}
}

func (s *sqlStore) now() time.Time { return normTime(s.clock()) }

// writeTx runs fn in one write transaction and commits it; fn's error rolls
// everything back and is returned as is.
func (s *sqlStore) writeTx(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.w != nil {
		return s.w.tx(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// read runs fn's queries, outside any write transaction: on SQLite's
// read-only pool (WAL: readers see the last commit and never wait for the
// writer), on the writer's connection for ":memory:", or on PostgreSQL's
// pool.
func (s *sqlStore) read(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	var q querier
	switch {
	case s.rstmts != nil:
		q = cachedQuerier{c: s.rstmts}
	case s.w != nil:
		return s.w.do(ctx, fn)
	default:
		q = s.db
	}
	if s.readWrap != nil {
		q = s.readWrap(q)
	}
	return fn(ctx, q)
}

// knownStates are the states Transition accepts as a target.
var knownStates = []State{
	StateReceived, StateConfirming, StateConfirmed, StateWithheld, StateSubmitting,
	StateAcknowledged, StatePending, StateSettled, StateRefused,
}

// encodeMap spells m as JSON text: for a non-empty map, byte for byte what
// json.Marshal(m) writes (keys sorted in Go string order: stable text;
// strings escaped as encoding/json does by default, see writeJSONString),
// without encoding/json's reflection, which showed in the worker's CPU
// profile on every registration and transition. An empty or nil map is
// "{}". TestEncodeMapMatchesJSON and FuzzEncodeMap hold it to
// json.Marshal's text.
func encodeMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	var arr [16]string // a settlement's refs and headers fit: no allocation
	keys := arr[:0]
	n := 1 // '{', then per pair 2+len(k)+1+2+len(v) and a ',' or the '}'
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n) // the one allocation, unless a string needs escapes
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// jsonSafeASCII reports the ASCII bytes encoding/json writes as they are
// inside a string by default (its htmlSafeSet): all but the control
// characters 0x00–0x1f, '"', '\\' and the HTML-sensitive '<', '>' and '&'.
// DEL (0x7f) is written as it is.
var jsonSafeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

const jsonHex = "0123456789abcdef"

// writeJSONString writes s as a JSON string, with encoding/json's rules
// (encode.go, appendString with escapeHTML): '"' and '\\' backslashed;
// \b \f \n \r \t named; other bytes below 0x20 and '<', '>', '&' as
// \u00xx (lower-case hex); each invalid UTF-8 byte as \ufffd; U+2028 and
// U+2029 as \u2028 and \u2029; everything else as it is.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafeASCII[c] {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '\\', '"':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(jsonHex[c>>4])
				b.WriteByte(jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(jsonHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// decodeMap reads a map encodeMap (or json.Marshal) wrote: "" and "{}" are
// empty. Text whose strings need no unescaping (every settlement's refs
// and headers in practice) is read by hand (decodeFlatMap), without
// encoding/json's reflection, which showed in the worker's CPU and
// allocation profiles on every read of a settlement; anything else goes
// to json.Unmarshal. The result is always json.Unmarshal's
// (TestDecodeMapMatchesJSON, FuzzDecodeMap).
func decodeMap(s string) (map[string]string, error) {
	if s == "" {
		return map[string]string{}, nil
	}
	if m, ok := decodeFlatMap(s); ok {
		return m, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeFlatMap reads s when it is exactly a JSON object of strings as
// encodeMap writes it: no whitespace, and strings of valid UTF-8 without
// escapes or control characters. ok is false for anything else, which
// the caller leaves to encoding/json.
func decodeFlatMap(s string) (m map[string]string, ok bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	m = make(map[string]string, strings.Count(body, `":"`))
	for body != "" {
		k, rest, ok := flatJSONString(body)
		if !ok || rest == "" || rest[0] != ':' {
			return nil, false
		}
		v, rest, ok := flatJSONString(rest[1:])
		if !ok {
			return nil, false
		}
		m[k] = v // a repeated key: the last wins, as with encoding/json
		if rest == "" {
			break
		}
		if rest[0] != ',' || len(rest) == 1 {
			return nil, false
		}
		body = rest[1:]
	}
	return m, true
}

// flatJSONString reads the JSON string s starts with when it needs no
// unescaping: its value and the text after it. ok is false for a string
// with an escape, a control character or invalid UTF-8 (encoding/json
// replaces that with U+FFFD), and for text that is not a string.
func flatJSONString(s string) (value, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			value = s[1:i]
			if !utf8.ValidString(value) {
				return "", "", false
			}
			return value, s[i+1:], true
		case c == '\\' || c < 0x20:
			return "", "", false
		}
	}
	return "", "", false
}

const settlementColumns = `provider, request_id, fingerprint, store_id, order_id, tender_type,
	settlement_type, amount, currency, client_context, correlation_id, state, attempts,
	refs, decline_reason, parked_reason, request, content_type, headers, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanSettlement(r rowScanner) (Settlement, error) {
	var st Settlement
	if err := scanSettlementInto(r, &st); err != nil {
		return Settlement{}, err
	}
	return st, nil
}

// scanSettlementInto scans the columns before, then settlementColumns into
// st.
func scanSettlementInto(r rowScanner, st *Settlement, before ...any) error {
	var state, refs, headers string
	dest := append(before, &st.Provider, &st.RequestID, &st.Fingerprint, &st.StoreID, &st.OrderID, &st.TenderType,
		&st.SettlementType, &st.Amount, &st.Currency, &st.ClientContext, &st.CorrelationID, &state, &st.Attempts,
		&refs, &st.DeclineReason, &st.ParkedReason, &st.Request, &st.ContentType, &headers,
		timeCol{t: &st.CreatedAt}, timeCol{t: &st.UpdatedAt})
	if err := r.Scan(dest...); err != nil {
		return err
	}
	st.State = State(state)
	var err error
	if st.Refs, err = decodeMap(refs); err != nil {
		return fmt.Errorf("store: refs of %s: %w", keyText(st.Key), err)
	}
	if st.Headers, err = decodeMap(headers); err != nil {
		return fmt.Errorf("store: headers of %s: %w", keyText(st.Key), err)
	}
	return nil
}

const statusColumns = `provider, request_id, seq, dedup_key, message_id, settlement_status, body, created_at, published_at`

func scanStatus(r rowScanner) (StatusEvent, error) {
	var ev StatusEvent
	err := r.Scan(&ev.Provider, &ev.RequestID, &ev.Seq, &ev.DedupKey, &ev.MessageID, &ev.SettlementStatus,
		&ev.Body, timeCol{t: &ev.CreatedAt}, timeCol{nullable: &ev.PublishedAt})
	return ev, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func validKey(key Key) error {
	if key.Provider == "" || key.RequestID == "" {
		return fmt.Errorf("store: key needs a provider and a request id (got %s)", quotedKey(key))
	}
	return nil
}

// Register inserts s in state received (Attempts, Refs, reasons and times as
// given are ignored: a new settlement starts clean) when its key is new, and
// returns the stored row either way. The insert and its history line
// ("" → received) are one transaction.
func (s *sqlStore) Register(ctx context.Context, in Settlement) (Settlement, bool, error) {
	return s.register(ctx, in, nil)
}

// RegisterMoving implements Store.RegisterMoving: a new settlement is
// inserted already in state to with ch applied, its history being "" →
// received and the transition's lines, in one transaction.
func (s *sqlStore) RegisterMoving(ctx context.Context, in Settlement, to State, ch Change) (Settlement, bool, error) {
	if !slices.Contains(knownStates, to) {
		return Settlement{}, false, fmt.Errorf("store: register %s: unknown state %q", keyText(in.Key), to)
	}
	return s.register(ctx, in, &move{to: to, ch: ch})
}

// move is the transition a registration applies (RegisterMoving).
type move struct {
	to State
	ch Change
}

// histLine is one line of a settlement's history.
type histLine struct {
	from, to State
	note     string
}

// historyLines are the history lines of a move from from to to with ch:
// one per state passed through (ch.Via), then the last with ch.Note.
func historyLines(from, to State, ch Change) []histLine {
	out := make([]histLine, 0, len(ch.Via)+1)
	for _, w := range ch.Via {
		out = append(out, histLine{from, w.State, w.Note})
		from = w.State
	}
	return append(out, histLine{from, to, ch.Note})
}

// newRow is what a registration inserts: the settlement clean in state
// received, or with m applied, and its history lines.
func newRow(m *move) (state State, attempts int, refs, decline, parked string, lines []histLine) {
	lines = []histLine{{"", StateReceived, "registered"}}
	if m == nil {
		return StateReceived, 0, "{}", "", "", lines
	}
	refs = encodeMap(m.ch.Refs)
	if m.ch.IncAttempts {
		attempts = 1
	}
	if m.ch.DeclineReason != nil {
		decline = *m.ch.DeclineReason
	}
	if m.ch.ParkedReason != nil {
		parked = *m.ch.ParkedReason
	}
	return m.to, attempts, refs, decline, parked, append(lines, historyLines(StateReceived, m.to, m.ch)...)
}

func (s *sqlStore) register(ctx context.Context, in Settlement, m *move) (Settlement, bool, error) {
	if err := validKey(in.Key); err != nil {
		return Settlement{}, false, err
	}
	cleaned, err := cleanRegistration(in) // text.go
	if err != nil {
		return Settlement{}, false, fmt.Errorf("store: register %s: %w", quotedKey(in.Key), err)
	}
	in = cleaned
	if m != nil {
		m = &move{to: m.to, ch: cleanChange(m.ch)}
	}
	headers := encodeMap(in.Headers)
	state, attempts, refs, decline, parked, lines := newRow(m)
	var stored Settlement
	var created bool
	if s.pg() { // PostgreSQL: one statement
		stored, created, err = s.pgRegister(ctx, in, headers, state, attempts, refs, decline, parked, lines)
		if err != nil {
			return Settlement{}, false, fmt.Errorf("store: register %s: %w", keyText(in.Key), err)
		}
		return stored, created, nil
	}
	// SQLite: the insert, with the history lines (history.go), in one
	// statement. The new row is not read back: it is built from the values
	// inserted (insertedRow). A known key's row is read as stored.
	err = s.writeTx(ctx, func(ctx context.Context, q querier) error {
		if s.keys != nil {
			// Before the INSERT, on the writer: a Get after the commit
			// finds the key in the filter. An INSERT that then conflicts
			// or is rolled back leaves a false positive (keyfilter.go).
			s.keys.add(in.Key)
		}
		now := s.now()
		res, err := q.ExecContext(ctx, `INSERT INTO settlements (`+settlementColumns+`, history)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $21)
		ON CONFLICT (provider, request_id) DO NOTHING`,
			in.Provider, in.RequestID, in.Fingerprint, in.StoreID, in.OrderID, in.TenderType,
			in.SettlementType, in.Amount, in.Currency, in.ClientContext, in.CorrelationID, string(state), attempts,
			refs, decline, parked, in.Request, in.ContentType, headers, s.d.timeArg(now), encodeHistory(lines, now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if created = n == 1; !created {
			stored, err = s.get(ctx, q, in.Key)
			return err
		}
		stored, err = insertedRow(in, state, attempts, refs, decline, parked, headers, now)
		if err == nil && s.rows != nil {
			// A new row has no status event yet: its first takes seq 1.
			s.rows.put(cachedRow{st: cloneSettlement(stored), refs: refs, nextSeq: 1})
		}
		return err
	})
	if err != nil {
		return Settlement{}, false, fmt.Errorf("store: register %s: %w", keyText(in.Key), err)
	}
	return stored, created, nil
}

// insertedRow is the settlement register inserted with these values, equal
// to what get reads back (TestRegisterReturnsTheStoredRow compares them),
// without the read: refs and headers decoded from the very text stored (an
// empty map, never nil), the request copied (as a read gives a slice of
// its own; SQLite gives an empty BLOB back as nil), now already normalized
// (UTC, microseconds).
func insertedRow(in Settlement, state State, attempts int, refs, decline, parked, headers string, now time.Time) (Settlement, error) {
	st := Settlement{
		Key:            in.Key,
		Fingerprint:    in.Fingerprint,
		StoreID:        in.StoreID,
		OrderID:        in.OrderID,
		TenderType:     in.TenderType,
		SettlementType: in.SettlementType,
		Amount:         in.Amount,
		Currency:       in.Currency,
		ClientContext:  in.ClientContext,
		CorrelationID:  in.CorrelationID,
		State:          state,
		Attempts:       attempts,
		DeclineReason:  decline,
		ParkedReason:   parked,
		ContentType:    in.ContentType,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if len(in.Request) > 0 {
		st.Request = bytes.Clone(in.Request)
	}
	var err error
	if st.Refs, err = decodeMap(refs); err != nil {
		return Settlement{}, fmt.Errorf("refs: %w", err)
	}
	if st.Headers, err = decodeMap(headers); err != nil {
		return Settlement{}, fmt.Errorf("headers: %w", err)
	}
	return st, nil
}

func (s *sqlStore) get(ctx context.Context, q querier, key Key) (Settlement, error) {
	st, err := scanSettlement(q.QueryRowContext(ctx, `SELECT `+settlementColumns+` FROM settlements
		WHERE provider = $1 AND request_id = $2`, key.Provider, key.RequestID))
	if errors.Is(err, sql.ErrNoRows) {
		return Settlement{}, fmt.Errorf("%w: %s", ErrNotFound, keyText(key))
	}
	return st, err
}

// Get returns a settlement or ErrNotFound. On a writable SQLite store, a
// key never registered is answered from the key filter (keyfilter.go),
// with the error the query would have given, and no query.
func (s *sqlStore) Get(ctx context.Context, key Key) (Settlement, error) {
	if unstorableKey(key) { // text.go
		return Settlement{}, fmt.Errorf("%w: %s (%w)", ErrNotFound, quotedKey(key), ErrInvalidText)
	}
	if s.keys != nil && !s.keys.mayHold(key) {
		return Settlement{}, fmt.Errorf("%w: %s", ErrNotFound, keyText(key)) // as get's
	}
	var st Settlement
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		st, err = s.get(ctx, q, key)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Settlement{}, fmt.Errorf("store: get %s: %w", keyText(key), err)
	}
	return st, err
}

// Transition implements Store.Transition: a compare-and-set on the state,
// the history line and the status event commit together or not at all.
func (s *sqlStore) Transition(ctx context.Context, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error) {
	st, ev, err := s.transition(ctx, key, from, to, ch, status)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrStateConflict) {
		err = fmt.Errorf("store: transition %s to %s: %w", keyText(key), to, err)
	}
	return st, ev, err
}

func (s *sqlStore) transition(ctx context.Context, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error) {
	if err := validKey(key); err != nil {
		return Settlement{}, nil, err
	}
	if !slices.Contains(knownStates, to) {
		return Settlement{}, nil, fmt.Errorf("unknown state %q", to)
	}
	// Text both backends store alike (text.go).
	if unstorableKey(key) {
		return Settlement{}, nil, fmt.Errorf("%w: %s (%w)", ErrNotFound, quotedKey(key), ErrInvalidText)
	}
	if err := checkEventText(status); err != nil {
		return Settlement{}, nil, err
	}
	ch = cleanChange(ch)
	var next Settlement
	var ev *StatusEvent
	if s.pg() { // PostgreSQL: one statement, no BEGIN/COMMIT
		if status != nil {
			return s.pgTransitionEvent(ctx, key, from, to, ch, *status)
		}
		var err error
		next, err = s.pgTransition(ctx, s.db, key, from, to, ch, s.now())
		return next, nil, err
	}
	err := s.writeTx(ctx, func(ctx context.Context, q querier) error {
		var err error
		next, ev, err = s.transitionTx(ctx, q, key, from, to, ch, status)
		return err
	})
	if err != nil {
		return Settlement{}, nil, err
	}
	return next, ev, nil
}

// transitionTx is transition's work inside its transaction. On
// PostgreSQL, only pgTransitionEvent's rare path runs it: the transition,
// then the event, two statements (a transition is otherwise one statement
// without a transaction).
func (s *sqlStore) transitionTx(ctx context.Context, tx querier, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error) {
	if s.pg() { // PostgreSQL: the transition, then the event: two statements
		now := s.now()
		next, err := s.pgTransition(ctx, tx, key, from, to, ch, now)
		if err != nil || status == nil {
			return next, nil, err
		}
		ev, err := s.pgRecordStatus(ctx, tx, key, *status, now)
		if err != nil {
			return Settlement{}, nil, fmt.Errorf("status event: %w", err)
		}
		return next, ev, nil
	}
	return s.sqliteTransition(ctx, tx, key, from, to, ch, status)
}

// sqliteTransition is transitionTx on SQLite: the row read, the
// compare-and-set UPDATE, which also appends the history lines (history.go)
// and, with a status event, the event's INSERT — two statements, three with
// an event. The
// writes are serialized (one writer, BEGIN IMMEDIATE), so nothing changes
// between the read and the writes.
//
// A settlement this process moved last is not read: its row is in the row
// cache as that write left it (rowCache), and the UPDATE compares every
// column the move depends on with the copy (sqliteMoveCached) — one
// statement, two with an event. When that matches no row, or the copy
// fails a check, the row is read and the move runs as without the cache.
// The read was ~40 µs of the writer's goroutine per transition, the serial
// part of every write.
//
// No statement uses RETURNING: with modernc.org/sqlite,
// RETURNING (run as a trigger program filling a temporary table) costs
// about as much as a statement of its own, and a row's columns cost the
// same returned or selected, so UPDATE … RETURNING instead of the SELECT
// and the UPDATE took more CPU, not less (BenchmarkSQLiteSettlementLifecycle
// and per-statement instruction counts; see the commit message).
func (s *sqlStore) sqliteTransition(ctx context.Context, tx querier, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error) {
	if s.rows != nil {
		if r, ok := s.rows.get(key); ok && (status == nil || r.nextSeq > 0) {
			next, ev, moved, err := s.moveRow(ctx, tx, r.st, r.refs, r.nextSeq, true, from, to, ch, status)
			if moved || err != nil {
				return next, ev, err
			}
			// Not moved: the row is not as cached, or the move does not
			// apply to the cached copy. Either way the row itself decides.
			s.rows.drop(key)
		}
	}
	var cur Settlement
	seq := 0 // the next event's seq; 0: not read
	var err error
	if status == nil {
		cur, err = s.get(ctx, tx, key)
	} else {
		cur, seq, err = s.getWithNextSeq(ctx, tx, key)
	}
	if err != nil {
		return Settlement{}, nil, err
	}
	next, ev, moved, err := s.moveRow(ctx, tx, cur, "", seq, false, from, to, ch, status)
	if err == nil && !moved {
		err = fmt.Errorf("%w: %s moved concurrently", ErrStateConflict, keyText(key))
	}
	return next, ev, err
}

// The compare-and-set UPDATE of a transition: on the state read (it cannot
// miss, SQLite having one writer; it is the guarantee should that ever
// change), and, from a cached row, on every column the move reads or
// carries over from it (updated_at, which every transition sets, besides).
const (
	sqliteMove = `UPDATE settlements SET state = $1, attempts = $2, refs = $3, decline_reason = $4,
		parked_reason = $5, updated_at = $6, history = history || $10
		WHERE provider = $7 AND request_id = $8 AND state = $9`
	sqliteMoveCached = sqliteMove + ` AND attempts = $11 AND refs = $12 AND decline_reason = $13
		AND parked_reason = $14 AND updated_at = $15`
)

// moveRow is sqliteTransition from the row cur: the checks, the
// compare-and-set UPDATE (sqliteMove) and the event's INSERT, which takes
// seq (the settlement's next; 0 when not known, then status is nil). From
// a cached row (cached; curRefs is its refs text as stored) the UPDATE
// compares more (sqliteMoveCached), and nothing the copy says is taken as
// a conflict: moved is false, with no error, when a check fails or the
// UPDATE matches no row, and the caller reads the row. From a row read, a
// failed check is the conflict it reports, and moved is false, with no
// error, only when the UPDATE matched no row. On success the row written
// is put in the row cache and the caller gets a copy of its own.
func (s *sqlStore) moveRow(ctx context.Context, tx querier, cur Settlement, curRefs string, seq int, cached bool, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, bool, error) {
	if err := moveConflict(cur, from, ch); err != nil {
		if cached {
			return Settlement{}, nil, false, nil
		}
		return Settlement{}, nil, false, err
	}
	key := cur.Key
	now := s.now()
	next := cur
	next.State = to
	next.UpdatedAt = now
	if len(ch.Refs) > 0 {
		next.Refs = maps.Clone(cur.Refs)
		maps.Copy(next.Refs, ch.Refs)
	}
	if ch.DeclineReason != nil {
		next.DeclineReason = *ch.DeclineReason
	}
	if ch.ParkedReason != nil {
		next.ParkedReason = *ch.ParkedReason
	}
	if ch.IncAttempts {
		next.Attempts++
	}
	refs := curRefs
	if !cached || len(ch.Refs) > 0 {
		refs = encodeMap(next.Refs)
	}

	query := sqliteMove
	args := []any{string(to), next.Attempts, refs, next.DeclineReason, next.ParkedReason, s.d.timeArg(now),
		key.Provider, key.RequestID, string(cur.State), encodeHistory(historyLines(cur.State, to, ch), now)}
	if cached {
		query = sqliteMoveCached
		args = append(args, cur.Attempts, curRefs, cur.DeclineReason, cur.ParkedReason, s.d.timeArg(cur.UpdatedAt))
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return Settlement{}, nil, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Settlement{}, nil, false, err
	} else if n != 1 {
		return Settlement{}, nil, false, nil
	}
	var ev *StatusEvent
	if status != nil {
		if ev, err = s.recordStatus(ctx, tx, key, *status, seq, now); err != nil {
			return Settlement{}, nil, false, fmt.Errorf("status event: %w", err)
		}
		if ev.Seq == seq { // inserted (a known DedupKey returns an earlier event)
			seq++
		}
	}
	if s.rows != nil {
		s.rows.put(cachedRow{st: next, refs: refs, nextSeq: seq})
		next = cloneSettlement(next)
	}
	return next, ev, true, nil
}

// moveConflict is the compare-and-set of a move from cur, in Go: the state
// (one of from), and the refs, attempts and parking ch expects.
func moveConflict(cur Settlement, from []State, ch Change) error {
	key := cur.Key
	if len(from) > 0 && !slices.Contains(from, cur.State) {
		return fmt.Errorf("%w: %s is %s, not %v", ErrStateConflict, keyText(key), cur.State, from)
	}
	if k, ok := refsDiffer(cur.Refs, ch.IfRefs); ok {
		return fmt.Errorf("%w: %s: its ref %s changed", ErrStateConflict, keyText(key), k)
	}
	if ch.IfAttempts > 0 && cur.Attempts != ch.IfAttempts {
		return fmt.Errorf("%w: %s: %d attempts, not %d", ErrStateConflict, keyText(key), cur.Attempts, ch.IfAttempts)
	}
	if ch.IfNotParked && cur.ParkedReason != "" {
		return fmt.Errorf("%w: %s is parked", ErrStateConflict, keyText(key))
	}
	return nil
}

// refsDiffer reports a ref whose value in refs is not the one want
// expects ("" for an absent ref): Change.IfRefs.
func refsDiffer(refs, want map[string]string) (string, bool) {
	for k, v := range want {
		if refs[k] != v {
			return k, true
		}
	}
	return "", false
}

// getWithNextSeq is get, and the seq the settlement's next status event
// takes (one past its last), in one statement: a column more in the read a
// transition does anyway, rather than a statement of its own.
func (s *sqlStore) getWithNextSeq(ctx context.Context, q querier, key Key) (Settlement, int, error) {
	var st Settlement
	var seq int
	err := scanSettlementInto(q.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM status_events
		WHERE provider = $1 AND request_id = $2), `+settlementColumns+` FROM settlements
		WHERE provider = $1 AND request_id = $2`, key.Provider, key.RequestID), &st, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return Settlement{}, 0, fmt.Errorf("%w: %s", ErrNotFound, keyText(key))
	}
	return st, seq, err
}

// recordStatus inserts ev as the settlement's event number seq (the next:
// getWithNextSeq, in the same transaction), or returns the event it
// already has with the same DedupKey (SQLite; PostgreSQL has
// pgRecordStatus). The insert finds that duplicate itself: ON CONFLICT on
// the unique index (provider, request_id, dedup_key) it inserts nothing,
// and only then is the existing event read. The event's other unique key,
// its message_id, still fails the insert; SQLite checks the ON CONFLICT
// target first, so a known DedupKey returns the existing event whatever
// the message_id, as when the event was looked up first
// (the StatusEventPaths conformance test). An event without a DedupKey is never
// deduplicated: its insert has no ON CONFLICT.
func (s *sqlStore) recordStatus(ctx context.Context, tx querier, key Key, ev StatusEvent, seq int, now time.Time) (*StatusEvent, error) {
	dedup := ev.DedupKey != ""
	if ev.MessageID == "" {
		ev.MessageID = newMessageID()
	}
	if !dedup {
		ev.DedupKey = ev.MessageID
	}
	query := `INSERT INTO status_events (` + statusColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)`
	if dedup {
		query += ` ON CONFLICT (provider, request_id, dedup_key) DO NOTHING`
	}
	res, err := tx.ExecContext(ctx, query, key.Provider, key.RequestID, seq, ev.DedupKey, ev.MessageID,
		ev.SettlementStatus, ev.Body, s.d.timeArg(now))
	if err != nil {
		return nil, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	if n == 0 { // only with ON CONFLICT: the DedupKey is known
		old, err := scanStatus(tx.QueryRowContext(ctx, `SELECT `+statusColumns+` FROM status_events
			WHERE provider = $1 AND request_id = $2 AND dedup_key = $3`, key.Provider, key.RequestID, ev.DedupKey))
		if err != nil {
			return nil, err
		}
		return &old, nil
	}
	ev.Key = key
	ev.Seq = seq
	ev.CreatedAt = now
	ev.PublishedAt = nil
	return &ev, nil
}

// newMessageID returns a random (version 4) UUID.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// queryAll runs a read query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *sqlStore, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		out = out[:0]
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, err
}

// Statuses returns a settlement's status events in Seq order (none for an
// unknown key).
func (s *sqlStore) Statuses(ctx context.Context, key Key) ([]StatusEvent, error) {
	if unstorableKey(key) { // text.go: none can be stored
		return nil, nil
	}
	out, err := queryAll(ctx, s, scanStatus, `SELECT `+statusColumns+` FROM status_events
		WHERE provider = $1 AND request_id = $2 ORDER BY seq`, key.Provider, key.RequestID)
	if err != nil {
		return nil, fmt.Errorf("store: statuses of %s: %w", keyText(key), err)
	}
	return out, nil
}

// MarkPublished records the first broker confirmation of an event; later
// confirmations (republished duplicates) keep the first time. It returns an
// error wrapping ErrNotFound when no event has messageID.
func (s *sqlStore) MarkPublished(ctx context.Context, messageID string, at time.Time) error {
	if at.IsZero() {
		at = s.clock()
	}
	at = normTime(at)
	var err error
	if s.pg() { // PostgreSQL: the update alone needs no transaction
		err = s.markPublishedTx(ctx, s.db, messageID, at)
	} else {
		err = s.writeTx(ctx, func(ctx context.Context, tx querier) error {
			return s.markPublishedTx(ctx, tx, messageID, at)
		})
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: mark %s published: %w", messageID, err)
	}
	return err
}

// MarkPublishedMany implements Store.MarkPublishedMany: one UPDATE whose
// ids are one parameter (a JSON array on SQLite, read with json_each; a
// text[] on PostgreSQL), so its text is prepared once whatever the batch
// size, and no parameter limit applies.
func (s *sqlStore) MarkPublishedMany(ctx context.Context, messageIDs []string, at time.Time) (int, error) {
	if len(messageIDs) == 0 {
		return 0, nil
	}
	if at.IsZero() {
		at = s.clock()
	}
	at = normTime(at)
	var n int64
	var err error
	if s.pg() {
		var res sql.Result
		res, err = s.db.ExecContext(ctx, `UPDATE status_events SET published_at = $1
			WHERE message_id = ANY($2::text[]) AND published_at IS NULL`, at, messageIDs)
		if err == nil {
			n, err = res.RowsAffected()
		}
	} else {
		ids, jerr := json.Marshal(messageIDs)
		if jerr != nil {
			return 0, fmt.Errorf("store: mark %d events published: %w", len(messageIDs), jerr)
		}
		err = s.writeTx(ctx, func(ctx context.Context, tx querier) error {
			res, err := tx.ExecContext(ctx, `UPDATE status_events SET published_at = $1
				WHERE message_id IN (SELECT value FROM json_each($2)) AND published_at IS NULL`, s.d.timeArg(at), string(ids))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("store: mark %d events published: %w", len(messageIDs), err)
	}
	return int(n), nil
}

// markPublishedTx is MarkPublished's work inside its transaction.
func (s *sqlStore) markPublishedTx(ctx context.Context, tx querier, messageID string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE status_events SET published_at = $1
		WHERE message_id = $2 AND published_at IS NULL`, s.d.timeArg(at), messageID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		var count int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_events WHERE message_id = $1`, messageID).Scan(&count); err != nil {
			return err
		}
		if count == 0 {
			return fmt.Errorf("%w: no status event has message_id %q", ErrNotFound, messageID)
		}
	}
	return nil
}

// Find returns the settlements matching every non-empty field of c (Amount
// compared as text: pass the canonical form), oldest first (created_at, then
// request_id).
func (s *sqlStore) Find(ctx context.Context, c Correlation) ([]Settlement, error) {
	vals := [len(findColumns)]string{c.Provider, c.StoreID, c.OrderID, c.TenderType, c.SettlementType,
		c.Amount, c.Currency, c.CorrelationID}
	shape := findShape{states: len(c.States)}
	args := make([]any, 0, len(vals)+len(c.States))
	for i, v := range vals {
		if !validText(v) { // text.go: no settlement can match
			return nil, nil
		}
		if v != "" {
			shape.fields |= 1 << i
			args = append(args, v)
		}
	}
	for _, st := range c.States {
		args = append(args, string(st))
	}
	out, err := queryAll(ctx, s, scanSettlement, findQuery(shape), args...)
	if err != nil {
		return nil, fmt.Errorf("store: find: %w", err)
	}
	return out, nil
}

// findColumns are the columns Find compares, in Correlation's order.
var findColumns = [...]string{"provider", "store_id", "order_id", "tender_type", "settlement_type",
	"amount", "currency", "correlation_id"}

// findShape is which of findColumns a Find compares (bit i: column i) and
// how many states it accepts: the shape of its SQL text.
type findShape struct {
	fields uint8
	states int
}

// findQueries caches findQuery's texts: a status handler finds on every
// status, and the shapes used are few.
var findQueries sync.Map // findShape → string

// findQuery is the text of a Find of this shape: $1… the compared
// columns' values in findColumns' order, then the states.
func findQuery(shape findShape) string {
	if q, ok := findQueries.Load(shape); ok {
		return q.(string)
	}
	var where []string
	n := 0
	for i, col := range findColumns {
		if shape.fields&(1<<i) != 0 {
			n++
			where = append(where, fmt.Sprintf("%s = $%d", col, n))
		}
	}
	if shape.states > 0 {
		marks := make([]string, shape.states)
		for i := range marks {
			n++
			marks[i] = fmt.Sprintf("$%d", n)
		}
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	query := `SELECT ` + settlementColumns + ` FROM settlements`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at, request_id`
	findQueries.Store(shape, query)
	return query
}

// LockOrder implements Store.LockOrder. Waiters queue on an in-process
// mutex first, so that only the holder uses a database connection; with
// PostgreSQL the holder then takes the order's session advisory lock on a
// dedicated connection, which serializes the replicas.
func (s *sqlStore) LockOrder(ctx context.Context, provider, storeID, orderID string) (func(), error) {
	okey := orderKey(provider, storeID, orderID)
	unlockLocal, err := s.locks.lock(ctx, okey)
	if err != nil {
		return nil, fmt.Errorf("store: lock order %s/%s/%s: %w", provider, storeID, orderID, err)
	}
	var h heldLock
	key := lockKey(provider, storeID, orderID)
	if s.d.advisoryLocks {
		if h.sess, err = s.pgLocks().lock(ctx, key); err != nil {
			unlockLocal()
			return nil, fmt.Errorf("store: lock order %s/%s/%s: %w", provider, storeID, orderID, err)
		}
	}
	s.heldMu.Lock()
	if s.held == nil {
		s.held = map[string]heldLock{}
	}
	s.held[okey] = h
	s.heldMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.heldMu.Lock()
			delete(s.held, okey)
			s.heldMu.Unlock()
			if h.sess != nil {
				h.sess.unlock(key)
			}
			unlockLocal()
		})
	}, nil
}

// pgLocks is the set of sessions PostgreSQL order locks are held on
// (pglocks.go), made on first use from lockSessions.
func (s *sqlStore) pgLocks() *pgLocks {
	s.pglOnce.Do(func() { s.pgl = newPgLocks(s.lockSessions(), pgLockSessions) })
	return s.pgl
}

// lockSessions is the pool LockOrder takes a PostgreSQL session from:
// lockDB, or db for a store made without one (tests).
func (s *sqlStore) lockSessions() *sql.DB {
	if s.lockDB != nil {
		return s.lockDB
	}
	return s.db
}

// SharedNow is Store.SharedNow: PostgreSQL's clock, read in one round trip;
// SQLite's store is one process's, so it shares no clock.
func (s *sqlStore) SharedNow(ctx context.Context) (time.Time, bool, error) {
	if s.d.name != postgresDialect.name {
		return time.Time{}, false, nil
	}
	var at time.Time
	if err := s.db.QueryRowContext(ctx, `SELECT clock_timestamp()`).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("read the database's clock: %w", err)
	}
	return at, true, nil
}

// CheckLock reports whether this store still holds the order's lock taken
// with LockOrder: nil when it does, an error wrapping ErrLockLost when it
// was released or, with PostgreSQL, when the session holding the advisory
// lock is gone (a failover, an idle timeout, a pooler, a terminated
// backend) — then another replica may hold it, and the caller must not call
// the provider. The settlement pipeline checks it right before every call.
func (s *sqlStore) CheckLock(ctx context.Context, provider, storeID, orderID string) error {
	okey := orderKey(provider, storeID, orderID)
	s.heldMu.Lock()
	h, ok := s.held[okey]
	s.heldMu.Unlock()
	if !ok {
		return fmt.Errorf("%w: order %s/%s/%s is not locked by this process", ErrLockLost, provider, storeID, orderID)
	}
	if h.sess == nil {
		return nil // SQLite: the in-process lock is the whole lock
	}
	held, err := h.sess.check(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%w: order %s/%s/%s: the session holding it cannot be checked: %v", ErrLockLost, provider, storeID, orderID, err)
	case !held:
		return fmt.Errorf("%w: order %s/%s/%s: the session no longer holds the advisory lock", ErrLockLost, provider, storeID, orderID)
	}
	return nil
}

// WriteStats reports how SQLite's writes were committed: the batches
// (shared transactions, one fsync each) and the writes they held. Both are
// zero for PostgreSQL.
func (s *sqlStore) WriteStats() (batches, writes int64) {
	if s.w == nil {
		return 0, 0
	}
	return s.w.batches.Load(), s.w.jobs.Load()
}

// LockCounts counts PostgreSQL's order-lock sessions (LockStats).
type LockCounts struct {
	Opened     int64 // sessions opened
	Ended      int64 // sessions that ended while the store was open: each lost every lock on it
	Statements int64 // statements the sessions ran
	Requests   int64 // lock tries, unlocks and checks those statements served
}

// LockStats reports PostgreSQL's order-lock sessions (pglocks.go); all zero
// for SQLite and before the first lock.
func (s *sqlStore) LockStats() LockCounts {
	if !s.d.advisoryLocks {
		return LockCounts{}
	}
	p := s.pgLocks()
	if p == nil { // closed before its first lock
		return LockCounts{}
	}
	return LockCounts{Opened: p.stats.opened.Load(), Ended: p.stats.ended.Load(),
		Statements: p.stats.statements.Load(), Requests: p.stats.requests.Load()}
}

// Ping checks the database is reachable.
func (s *sqlStore) Ping(ctx context.Context) error {
	var err error
	var stall time.Duration // read once: the transaction may end meanwhile
	if s.w != nil {
		stall = s.w.stalled()
	}
	switch {
	case s.w != nil && s.rstmts == nil: // ":memory:": the writer's connection is the database
		err = s.w.ping(ctx)
	case s.w != nil && s.w.isClosed():
		err = errClosed
	case stall > 0:
		// The read pool would answer from the page cache while no write
		// can commit (a stalled disk).
		err = fmt.Errorf("the write transaction has run for %s without ending (a stalled disk?): writes wait", stall.Round(time.Second))
	case s.pg() && !s.readOnly:
		err = s.pingWritable(ctx)
	default:
		err = s.db.PingContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("store: ping %s: %w", s.d.name, err)
	}
	return nil
}

// pingWritable checks that the PostgreSQL server answers and takes writes:
// after a failover STORE_DSN may reach a server that takes sessions but
// refuses every write (SQLSTATE 25006: the old primary back as a standby,
// a name not moved yet, a service gone read-only on a full disk), and a
// plain ping would call it up.
func (s *sqlStore) pingWritable(ctx context.Context) error {
	var recovery bool
	var readOnly string
	if err := s.db.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").Scan(&recovery, &readOnly); err != nil {
		return err
	}
	switch {
	case recovery:
		return errors.New("the server is read-only (a standby, in recovery): writes are refused; STORE_DSN must reach the primary")
	case readOnly == "on":
		return errors.New("the server is read-only (transaction_read_only is on): writes are refused")
	}
	return nil
}

// Close releases the database.
func (s *sqlStore) Close() error {
	if s.keys != nil {
		s.keys.close() // first: a Get from now on queries, and fails as before
	}
	var werr error
	if s.w != nil {
		werr = s.w.close() // waits for the write in progress
	}
	if s.rstmts != nil {
		s.rstmts.close()
	}
	s.pglOnce.Do(func() {}) // none made after Close
	if s.pgl != nil {
		s.pgl.close() // before db, whose sessions a store made in tests holds them on
	}
	var err error
	if s.w == nil || s.db != s.w.db {
		err = s.db.Close()
	}
	if s.lockDB != nil {
		s.lockDB.Close()
	}
	if werr != nil {
		err = werr
	}
	if s.release != nil {
		s.release()
		s.release = nil
	}
	return err
}

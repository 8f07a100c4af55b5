package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"golang.org/x/sync/errgroup"
	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Option configures Open.
type Option func(*options)

type options struct {
	clock       func() time.Time
	busyTimeout time.Duration
	readOnly    bool
	warm        int
	poolSize    int
}

// WithClock makes the store take its timestamps (created_at, updated_at,
// transition and status times) from clock instead of time.Now. Tests use it;
// the store converts whatever it returns to UTC, microsecond precision.
func WithClock(clock func() time.Time) Option {
	return func(o *options) {
		if clock != nil {
			o.clock = clock
		}
	}
}

// WithBusyTimeout sets how long an SQLite connection waits for another
// writer before failing with "database is locked" (default 10s). PostgreSQL
// ignores it.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// DefaultPoolSize is how many PostgreSQL sessions a store runs its
// statements on at most, unless WithPoolSize says otherwise.
const DefaultPoolSize = 8

// WithPoolSize bounds the PostgreSQL sessions the store runs its statements
// on at once (n < 1: DefaultPoolSize); callers beyond it wait for a session
// in the process, not in the server. The few sessions that hold order
// locks (LockOrder, pglocks.go) are apart and not counted. SQLite ignores
// it.
func WithPoolSize(n int) Option {
	return func(o *options) { o.poolSize = n }
}

// WithWarmPool makes Open connect the PostgreSQL sessions for order locks
// (pglocks.go) and up to n of the statement pool's (WithPoolSize) before it
// returns, so that the first settlements do not all wait for new sessions at
// once: a PostgreSQL connection costs a backend process and a SCRAM
// handshake, and a loaded worker starting cold spent its first seconds
// connecting (the bench's p99 was 10 s). It is best effort: a server that
// refuses more sessions (max_connections) ends the warming, not the Open;
// the pool then opens sessions when they are needed, as without it. SQLite
// ignores it.
func WithWarmPool(n int) Option {
	return func(o *options) { o.warm = max(n, 0) }
}

// ReadOnly opens the store for reading only, for operator commands: no
// migration is applied (a database without the schema is an error), an
// SQLite file is opened with mode=ro and query_only and without taking
// PATH.lock, so that it can be read while a worker owns it (WAL lets
// readers run beside the writer), and PostgreSQL sessions have
// default_transaction_read_only on. Every write fails.
func ReadOnly() Option {
	return func(o *options) { o.readOnly = true }
}

// Open opens the store named by dsn and brings its schema up to date.
//
// The DSN picks the backend:
//
//   - "postgres://..." or "postgresql://..." — PostgreSQL through pgx
//     (github.com/jackc/pgx/v5/stdlib); any pgx connection string option may
//     be given. Use it when several replicas share state.
//   - "sqlite:PATH", "file:PATH" or a bare PATH — SQLite through
//     modernc.org/sqlite. The parent directory is created if missing. Driver
//     options may follow a '?' (for example "?_pragma=cache_size(-20000)"),
//     but the durability settings are fixed: journal_mode=WAL,
//     synchronous=FULL, foreign_keys=on, transactions BEGIN IMMEDIATE (a
//     _pragma naming one is dropped; one that is not a single
//     name(value) or name=value, such as one holding a ';', is refused;
//     and Open checks the settings hold on the writer). One
//     process owns an SQLite file: LockOrder only serializes the goroutines
//     of that process, so replicas must use PostgreSQL. ":memory:" opens a
//     private in-memory database (tests only: nothing survives Close).
//
// An SQLite file is owned by one process: Open takes an exclusive lock on
// PATH.lock (held until Close, dropped by the kernel if the process dies)
// and fails with ErrInUse, naming STORE_DSN=postgres://… for replicas, when
// another process holds it.
//
// Migrations are embedded in the binary, versioned in table
// schema_migrations, and applied at Open; Open is idempotent, and replicas
// may open the same PostgreSQL database at once (an advisory lock serializes
// their migrations).
func Open(ctx context.Context, dsn string, opts ...Option) (Store, error) {
	o := options{clock: time.Now, busyTimeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	dsn = strings.TrimSpace(dsn)
	if err := CheckDSN(dsn); err != nil {
		return nil, err
	}
	lower := strings.ToLower(dsn)
	switch {
	case Shared(dsn):
		return openPostgres(ctx, dsn, o)
	case strings.HasPrefix(lower, "sqlite:"):
		return openSQLite(ctx, dsn, dsn[len("sqlite:"):], o)
	case strings.HasPrefix(lower, "file:"):
		return openSQLite(ctx, dsn, dsn[len("file:"):], o)
	default:
		return openSQLite(ctx, dsn, dsn, o)
	}
}

// Shared reports whether the store dsn names may be opened by several
// processes at once (PostgreSQL: Open takes it for one); an SQLite file
// is one process's.
func Shared(dsn string) bool {
	lower := strings.ToLower(strings.TrimSpace(dsn))
	return strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://")
}

// CheckDSN reports a STORE_DSN that Open would refuse, or would take for
// what it is not, without opening anything (package config checks
// STORE_DSN with it at load): an empty one, a PostgreSQL URL written
// without its "//" (postgres:/…, postgres:user:…) or a libpq keyword/value
// string (host=… password=…), either of which an SQLite path would take
// for a local file name, so that replicas would each settle on a store of
// their own, and a URL of another scheme. Its errors quote none of the
// DSN but a scheme: a password may be anywhere in it.
func CheckDSN(dsn string) error {
	dsn = strings.TrimSpace(dsn)
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		return errors.New(`STORE_DSN is empty: set it to "sqlite:/path/to/settlements.db" or "postgres://user:password@host:5432/dbname"`)
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"),
		strings.HasPrefix(lower, "sqlite:"), strings.HasPrefix(lower, "file:"):
		return nil
	case strings.HasPrefix(lower, "postgres:"), strings.HasPrefix(lower, "postgresql:"):
		// Not a path either: quoting it would print its password.
		return errors.New(`STORE_DSN starts like a PostgreSQL URL but lacks its "//" ` +
			`(taken for an SQLite path, it would open a local file of that name, and replicas would not share it): ` +
			`write it postgres://user:password@host:5432/dbname?sslmode=…`)
	case libpqKeywords.MatchString(dsn):
		// Not a path: quoting it would print its password.
		return errors.New(`STORE_DSN looks like a PostgreSQL keyword/value string (host=… dbname=…), which the store does not read ` +
			`(taken for an SQLite path, it opened a local file of that name, and replicas would not share it): ` +
			`write it as a URL, postgres://user:password@host:5432/dbname?sslmode=…`)
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return fmt.Errorf("STORE_DSN: unsupported scheme %q: use sqlite:PATH (or file:PATH, or a bare path) for SQLite, postgres://... for PostgreSQL", scheme)
	}
	return nil
}

// libpqKeywords matches a libpq keyword/value connection string
// ("host=db user=app password=… dbname=settlements"): a STORE_DSN without
// a scheme whose words are libpq's connection keywords is no SQLite path.
var libpqKeywords = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|passfile|sslmode|service|connect_timeout)\s*=`)

// redact hides the password of a URL-style DSN for error messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	// A password can also be a query parameter (password=, sslpassword=).
	params := strings.Split(u.RawQuery, "&")
	for i, p := range params {
		k, _, _ := strings.Cut(p, "=")
		if name, err := url.QueryUnescape(k); err != nil || strings.Contains(strings.ToLower(name), "password") {
			params[i] = k + "=xxxxx"
		}
	}
	u.RawQuery = strings.Join(params, "&")
	return u.Redacted()
}

// planCacheMode is the PostgreSQL setting setGenericPlans sets; a STORE_DSN
// that names it (plan_cache_mode=auto) keeps its own.
const planCacheMode = "plan_cache_mode"

// idleInTransaction is PostgreSQL's idle_in_transaction_session_timeout,
// which every session of the store sets to pgIdleInTransactionTimeout
// unless the DSN sets it.
const idleInTransaction = "idle_in_transaction_session_timeout"

// pgIdleInTransactionTimeout ends, on the server, a session left idle
// inside a transaction that long, which rolls it back and releases its
// row locks. The store's transactions run their statements back to back
// (writeTx: pgTransitionEvent's rare path; migrations); one left idle is
// a replica that vanished inside it (its host powered off or cut off,
// sending nothing more, not even the end of its connection): without it,
// the backend held the settlement's row (FOR UPDATE) until the server's
// TCP keepalive gave up on the peer, two hours and more by default, and
// every other replica's transition of that settlement waited on it.
const pgIdleInTransactionTimeout = 30 * time.Second

// setGenericPlans makes a new session plan each prepared statement once
// (plan_cache_mode = force_generic_plan) instead of planning its first five
// executions with their values, as PostgreSQL does by default. The store's
// statements read by key or by an index their columns select, whatever the
// values (TestPostgresGenericPlansUseTheRightIndex pins the hot ones), and
// planning their CTEs again on each of the pool's sessions took a fifth of
// the server's CPU in the bench. It is a SET after connecting rather than a
// startup parameter, which poolers such as PgBouncer refuse.
func setGenericPlans(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SET "+planCacheMode+" = force_generic_plan"); err != nil {
		return fmt.Errorf("set %s: %w", planCacheMode, err)
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string, o options) (Store, error) {
	shown := redact(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("STORE_DSN %s: cannot open PostgreSQL: %w", shown, err)
	}
	if o.readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if _, set := cfg.RuntimeParams[idleInTransaction]; !set {
		cfg.RuntimeParams[idleInTransaction] = fmt.Sprint(pgIdleInTransactionTimeout.Milliseconds())
	}
	var opts []stdlib.OptionOpenDB
	if _, set := cfg.RuntimeParams[planCacheMode]; !set {
		opts = append(opts, stdlib.OptionAfterConnect(setGenericPlans))
	}
	// Statements run on a small pool: a few busy sessions get more done
	// than many on the server's cores (in the bench, 64 busy sessions
	// burned twice the server CPU per statement that 8 did). Its sessions
	// stay open while the store is.
	size := o.poolSize
	if size < 1 {
		size = DefaultPoolSize
	}
	db := stdlib.OpenDB(*cfg, opts...)
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	// Order locks are held on a few sessions of their own (pglocks.go),
	// taken from a pool apart, so that a holder never waits for the
	// statement pool's sessions with a lock's taken from it.
	lockDB := stdlib.OpenDB(*cfg, opts...)
	closeBoth := func() {
		db.Close()
		lockDB.Close()
	}
	if err := db.PingContext(ctx); err != nil {
		closeBoth()
		return nil, fmt.Errorf("STORE_DSN %s: cannot open PostgreSQL (check host, port, credentials and that the database exists): %w", shown, err)
	}
	warmPool(ctx, db, min(o.warm, size))
	s := newSQLStore(db, postgresDialect, o)
	s.lockDB = lockDB
	if err := s.prepare(ctx); err != nil {
		closeBoth()
		return nil, fmt.Errorf("STORE_DSN %s: cannot open PostgreSQL: %w", shown, err)
	}
	if o.warm > 0 {
		s.pgLocks().warm(ctx) // their loops run until Close
	}
	return s, nil
}

// sqliteForced are the DSN parameters the store sets itself; the caller's
// values for them are dropped.
var sqliteForced = map[string]bool{
	"_txlock": true, "_journal_mode": true, "_journal": true,
	"_synchronous": true, "_sync": true, "_foreign_keys": true, "_fk": true,
	"_busy_timeout": true, "_timeout": true,
	"_time_format": true, "_texttotime": true, "_inttotime": true,
}

// sqliteForcedPragmas are the pragmas the store sets itself; a DSN's
// _pragma naming one is dropped.
var sqliteForcedPragmas = []string{"journal_mode", "synchronous", "foreign_keys", "busy_timeout"}

// sqlitePragma is the one form a DSN's _pragma may take: a name (with or
// without a schema), then nothing, "(value)" or "=value", the value made
// of letters, digits, spaces, quotes and "_.+-". modernc.org/sqlite runs
// "PRAGMA " + the text as given, in the text's sort order among the
// store's own: a ';' would run a second statement after them (say
// "pragma synchronous=OFF"), and a schema prefix would hide a forced
// pragma's name from a prefix test.
var sqlitePragma = regexp.MustCompile(`^\s*(?:[A-Za-z_][A-Za-z0-9_]*\.)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*[A-Za-z0-9_.+\-'" ]*\)|=\s*[A-Za-z0-9_.+\-'" ]*)?\s*$`)

// dsnPragmas are the _pragma values of a DSN the store keeps: each checked
// (sqlitePragma), those naming a forced pragma dropped; named holds the
// names of those kept, in lower case.
func dsnPragmas(values []string) (out []string, named map[string]bool, err error) {
	named = map[string]bool{}
	for _, p := range values {
		m := sqlitePragma.FindStringSubmatch(p)
		if m == nil {
			return nil, nil, fmt.Errorf("_pragma %q: want one pragma, name(value) or name=value, without ';'", p)
		}
		if name := strings.ToLower(m[1]); !slices.Contains(sqliteForcedPragmas, name) {
			out = append(out, p)
			named[name] = true
		}
	}
	return out, named, nil
}

// sqliteReaders is the size of SQLite's read-only pool.
const sqliteReaders = 4

// readerCacheKiB is the page cache of each reader of the read-only pool,
// as SQLite's cache_size takes it (negative: KiB), unless the DSN sets
// cache_size. In WAL mode a connection empties its cache whenever it
// begins a read after another connection committed, which under load is
// every read: a reader's cache only ever holds the pages of the read in
// progress. SQLite's default (2 MiB) was filled by the odd scan (a count
// for the gauges, a sweeper batch) and kept by each of the four readers,
// about 2 MiB of the worker's resident memory for no hit. The writer's
// cache, which no other connection invalidates, keeps the default.
const readerCacheKiB = -128

// sqliteDSN turns the part of a STORE_DSN after its scheme into a file path
// and the modernc.org/sqlite DSN to open it with; readOnly adds
// query_only(1) (the read pool).
func sqliteDSN(rest string, busyTimeout time.Duration, readOnly bool) (path, driverDSN string, err error) {
	path, query, _ := strings.Cut(rest, "?")
	if strings.HasPrefix(path, "//") { // sqlite:///abs/path, file:///abs/path
		path = path[2:]
	}
	if path == "" {
		return "", "", errors.New("no file path (want sqlite:/path/to/settlements.db)")
	}
	if strings.ContainsAny(path, "#\x00") {
		return "", "", fmt.Errorf("file path %q contains '#' or NUL", path)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("bad options after '?': %w", err)
	}
	for k := range q {
		if sqliteForced[strings.ToLower(k)] {
			q.Del(k)
		}
	}
	pragmas, named, err := dsnPragmas(q["_pragma"])
	if err != nil {
		return "", "", err
	}
	q.Del("_pragma")
	if !named["temp_store"] {
		// Savepoints' statement journals (one per write of a group commit,
		// sqliteWriter) spill past 64 KiB into a temporary file: in memory,
		// they cost no write(2). Nothing durable is kept there.
		pragmas = append(pragmas, "temp_store(MEMORY)")
	}
	pragmas = append(pragmas,
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(1)",
	)
	if readOnly {
		pragmas = append(pragmas, "query_only(1)")
		if !named["cache_size"] {
			pragmas = append(pragmas, fmt.Sprintf("cache_size(%d)", readerCacheKiB))
		}
	}
	q["_pragma"] = pragmas
	q.Set("_txlock", "immediate")
	// A bare path (no "file:" prefix): modernc.org/sqlite strips the query
	// and opens the path as is, so no URI escaping is needed.
	return path, path + "?" + q.Encode(), nil
}

func openSQLite(ctx context.Context, dsn, rest string, o options) (Store, error) {
	path, driverDSN, err := sqliteDSN(rest, o.busyTimeout, false)
	if err != nil {
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite: %w", dsn, err)
	}
	if o.readOnly {
		return openSQLiteReadOnly(ctx, dsn, path, driverDSN)
	}
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite: cannot create directory %s: %w", dsn, dir, err)
			}
		}
	}
	release := func() {}
	if !memory {
		if release, err = lockFile(path); err != nil {
			return nil, fmt.Errorf("STORE_DSN %q: %w", dsn, err)
		}
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	db, err := sql.Open("sqlite", driverDSN)
	if err != nil {
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite: %w", dsn, err)
	}
	// One write connection: SQLite has one writer at a time anyway, and
	// waiting in Go is a queue, whereas many connections contending for the
	// write lock back off in SQLite's busy handler (sleeping 1-100 ms each
	// time). Every connection to ":memory:" is moreover a database of its
	// own. Reads use a pool of their own, below.
	db.SetMaxOpenConns(1)
	// The first connections to a new file race to switch it to WAL, which
	// SQLite can refuse with SQLITE_BUSY without waiting: retry for as long
	// as the busy timeout.
	deadline := time.Now().Add(o.busyTimeout)
	for {
		err := db.PingContext(ctx)
		if err == nil {
			break
		}
		if !isBusy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			db.Close()
			return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s (check the path and its permissions): %w", dsn, path, err)
		}
		time.Sleep(10*time.Millisecond + rand.N(20*time.Millisecond))
	}
	if err := checkDurability(ctx, db, memory); err != nil {
		db.Close()
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s: %w", dsn, path, err)
	}
	s := newSQLStore(db, sqliteDialect, o)
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s: %w", dsn, path, err)
	}
	// The key filter, from the table as migrated, before the writer runs
	// (keyfilter.go): from now on only register inserts, and it adds to it.
	if s.keys, err = loadKeyFilter(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s: %w", dsn, path, err)
	}
	s.w = newSQLiteWriter(db)
	s.rows = newRowCache()
	s.w.onRollback = s.rows.clear
	s.w.onJobStart, s.w.onJobUndone = s.rows.begin, s.rows.undo
	if !memory {
		// The read-only pool: in WAL mode readers see the last commit and
		// neither wait for the writer nor make it wait.
		_, readDSN, _ := sqliteDSN(rest, o.busyTimeout, true)
		rdb, err := sql.Open("sqlite", readDSN)
		if err == nil {
			rdb.SetMaxOpenConns(sqliteReaders)
			rdb.SetMaxIdleConns(sqliteReaders)
			if err = rdb.PingContext(ctx); err != nil {
				rdb.Close()
			}
		}
		if err != nil {
			s.w.close() // stops the writer, closes db
			return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s for reading: %w", dsn, path, err)
		}
		s.db, s.rstmts = rdb, newStmtCache(rdb)
	}
	s.release = release
	ok = true
	return s, nil
}

// checkDurability checks on db, the writer's one connection, that the
// settings the store forces hold, whatever the DSN added: journal_mode WAL
// (not for ":memory:"), synchronous FULL (2) and foreign_keys on.
func checkDurability(ctx context.Context, db *sql.DB, memory bool) error {
	for _, c := range []struct{ pragma, want, hint string }{
		{"journal_mode", "wal", " (is the file on a file system that supports WAL?)"},
		{"synchronous", "2", " (FULL)"},
		{"foreign_keys", "1", ""},
	} {
		if memory && c.pragma == "journal_mode" {
			continue
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			return fmt.Errorf("PRAGMA %s: %w", c.pragma, err)
		}
		if !strings.EqualFold(got, c.want) {
			return fmt.Errorf("%s is %q, not %s%s", c.pragma, got, c.want, c.hint)
		}
	}
	return nil
}

// openSQLiteReadOnly opens path with mode=ro and query_only, without the
// owner's lock file and without migrating. driverDSN is what sqliteDSN made
// of the STORE_DSN (a bare path and its options): it becomes a file: URI so
// that SQLite applies mode=ro.
func openSQLiteReadOnly(ctx context.Context, dsn, path, driverDSN string) (Store, error) {
	if path == ":memory:" {
		return nil, fmt.Errorf("STORE_DSN %q: a private in-memory database cannot be read by another process", dsn)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s read-only: %w (is STORE_DSN the worker's?)", dsn, path, err)
	}
	_, query, _ := strings.Cut(driverDSN, "?")
	q, _ := url.ParseQuery(query)
	q.Del("_txlock")
	q.Set("mode", "ro")
	q.Add("_pragma", "query_only(1)")
	uri := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite: %w", dsn, err)
	}
	db.SetMaxOpenConns(1)
	s := newSQLStore(db, sqliteDialect, options{clock: time.Now, readOnly: true})
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("STORE_DSN %q: cannot open SQLite file %s read-only: %w", dsn, path, err)
	}
	return s, nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (another connection
// holds the lock).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 5 // SQLITE_BUSY
}

// warmPool opens up to n sessions on db, a few at a time, and returns them
// to its idle pool; it stops at the first session the server refuses.
func warmPool(ctx context.Context, db *sql.DB, n int) {
	conns := make([]*sql.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range conns {
		g.Go(func() error {
			c, err := db.Conn(gctx)
			if err != nil {
				return err
			}
			conns[i] = c
			return c.PingContext(gctx)
		})
	}
	_ = g.Wait() // best effort: what was opened stays idle in the pool
}

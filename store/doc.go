// Package store is the durable memory of the settlement pipeline: one row per
// settlement request (keyed by provider and requestId) holding the pipeline's
// position, the provider's references and every status event published for it.
//
// The pipeline writes a transition before and after each provider call, so a
// crash at any point leaves a row that says exactly how far the request got:
//
//	received ─► confirming ─► confirmed ─► submitting ─► acknowledged ─► settled | refused
//	    │            └──────► withheld (funds not available: R, no debit)
//	    └─(credit)────────────────────────► submitting ─► pending ─► settled | refused
//
// Terminal states (withheld, settled, refused) carry their status events; a
// redelivered request in a terminal state republishes them (same message_id)
// and never reaches the provider again. Parking is a flag, not a state: a parked
// request keeps its position so that a replay resumes where it stopped.
//
// # Guarantees
//
// Transition is a compare-and-set: it moves a settlement only from one of the
// expected states, so of two workers racing on one request exactly one wins
// and the other gets ErrStateConflict. It compares more when asked: refs
// (Change.IfRefs), the attempt count (Change.IfAttempts) and the parking
// (Change.IfNotParked), for a move whose state alone does not show another
// writer's work (a call recorded, an attempt counted, or a parking, in the
// same state). The state change, its history lines
// (kept in the settlement's row: history.go) and its status event commit in
// one transaction: a status event is never
// recorded for a transition that did not happen, nor the reverse. Recording
// an event whose DedupKey the settlement already has returns the stored event
// (same Seq, same MessageID) and inserts nothing.
//
// # Text
//
// Both backends store the same text (text.go). Free text — decline and
// parked reasons, notes, refs, a registration's ClientContext and
// ContentType — is stored with each NUL byte and each run of invalid UTF-8
// replaced by U+FFFD, which PostgreSQL would otherwise refuse (and SQLite
// store): a provider's reason or reference never fails a transition.
// Identifiers (the key, the columns Find compares, a status event's
// DedupKey, MessageID and SettlementStatus) are not rewritten: Register
// and Transition refuse one that is not valid text with ErrInvalidText,
// and a read by one finds nothing. Bodies and headers are kept as given
// (Encrypted seals bodies, and header values holding a card number).
//
// # Backends
//
// Two implementations share one SQL schema (embedded, versioned migrations in
// migrations/, applied by Open and recorded in table schema_migrations):
//
//   - SQLite (modernc.org/sqlite, pure Go), the embedded default: DSN
//     "sqlite:PATH", "file:PATH" or a bare path. WAL journal,
//     synchronous=FULL (a committed transition survives a power cut),
//     foreign keys on, every transaction BEGIN IMMEDIATE so that concurrent
//     writers queue (busy_timeout) instead of deadlocking. Writes run on one
//     pinned connection with every statement prepared once, and are
//     committed in groups: one goroutine runs the writes queued meanwhile in
//     arrival order in one transaction (one WAL fsync), each in a savepoint
//     of its own (a failing write is rolled back alone), and releases every
//     caller only after that COMMIT returned. The writer keeps the rows it
//     wrote last for the settlements still moving (rowcache.go; at most
//     512 rows and 2 MiB, none above 32 KiB), and moves
//     one from that copy without reading it first, its UPDATE comparing
//     every column the move depends on (a row changed by any other path is
//     read, as without the copy). The writing process also keeps a Bloom
//     filter of the keys in settlements (keyfilter.go), and Get answers a
//     key never registered (every new request's first read) ErrNotFound
//     from it, without a query. It holds because one process writes the
//     file (PATH.lock) and register is the one INSERT into settlements: it
//     adds the key before its INSERT runs, and Open builds the filter from
//     the table once migrated. An INSERT rolled back and a row deleted only
//     leave a false positive: Get queries, as before. It grows with
//     the keys (a scalable Bloom filter: 1 % false positives in all, about
//     90 KiB on an empty table and 1.4 to 2 bytes a key beyond, off past 16M
//     keys), is built at open at about 1 µs a row, and above 8M rows
//     (keyFilterMaxRows) there is none; ":memory:" has one
//     too, read-only opens and PostgreSQL (other processes insert) none.
//     Reads run on a small read-only
//     (query_only) pool beside it, which WAL allows: a reader sees the last
//     commit and never waits for the writer. Its connections keep a small
//     page cache (readerCacheKiB): WAL empties a reader's cache at each
//     read after a commit, so a larger one only holds memory. ONE process owns
//     an SQLite file: LockOrder is an in-process lock, so two processes on
//     one file would not exclude each other. Replicas must use PostgreSQL.
//   - PostgreSQL (github.com/jackc/pgx/v5/stdlib), for replicas sharing
//     state: DSN "postgres://..." or "postgresql://...". Transition locks the
//     row (SELECT ... FOR UPDATE). LockOrder queues goroutines on an
//     in-process lock first (so waiters hold no connection), then takes the
//     session advisory lock OrderLockKey(provider, store, order) on one of
//     a few sessions of the store's own (pglocks.go: pgLockSessions, chosen
//     by the key), polling pg_try_advisory_lock while another replica holds
//     it. Each lock session runs a loop that serves every lock, unlock and
//     check queued while its last statement ran with one statement, on a
//     context of its own (a caller's cancelled context would make pgx close
//     the session every other holder's lock is on); a lock taken for a
//     caller that gave up is released. Every other statement runs on a small
//     bounded pool (WithPoolSize, default DefaultPoolSize): size the server's
//     max_connections for that pool plus pgLockSessions per replica. A lock
//     session that ends (dropped, terminated, a failed or timed-out
//     statement) releases every lock on it. It shows a random token in its
//     settings (settlement_worker.order_lock), set when it was opened;
//     CheckLock, before every provider call, is answered by a statement sent
//     after it asked: a session that ended, was reset (DISCARD ALL) or is
//     another one fails or shows no such token, and its holders see
//     ErrLockLost.
//
// Times are taken by the store (time.Now, or the WithClock option), kept in
// UTC with microsecond precision in both backends.
package store

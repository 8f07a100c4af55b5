package store

import (
	"bytes"
	"maps"
)

// The row cache's bounds: about the settlements in flight in one process
// (its consumers, and those awaiting a provider's status), each a few KiB.
// A row larger than rowCacheMaxRow (a large request body) is not kept: it
// is read, as without the cache.
const (
	rowCacheSize   = 512
	rowCacheBytes  = 2 << 20
	rowCacheMaxRow = 32 << 10
)

// rowCache keeps, for the SQLite settlements this process wrote last and
// that are still moving, the row as that write left it, so that the next
// transition skips reading it back (sqliteTransition: the read is a
// statement of its own inside the writer, the serial part of every write).
//
// It is a hint, never the truth: a transition that starts from a cached row
// moves it with an UPDATE that also compares every column the move depends
// on with the cached values (state, attempts, refs, parked_reason and
// updated_at, which every transition sets), and when that matches no row
// the entry is dropped and the transition reads the row as it would have
// without the cache. So a row written by any other path (retention, a
// test's own SQL) is never moved from a stale copy.
//
// Only the SQLite writer's goroutine touches it: the job functions it runs
// (register, sqliteTransition) and its hooks, which empty it when a shared
// transaction is rolled back (the rows its jobs put may not exist), and
// forget the rows a job put when that job alone is rolled back (its
// savepoint; a function that failed or panicked after a move: begin,
// undo).
type rowCache struct {
	rows  map[Key]cachedRow
	bytes int // the rows' rowSize, summed
	// journal are the keys put by the writer's job running now (begin):
	// undo drops them when that job's writes are rolled back.
	journal []Key
}

// cachedRow is a settlement as its last write left it.
type cachedRow struct {
	st Settlement
	// refs is the refs column's text as written (encodeMap(st.Refs)).
	refs string
	// nextSeq is the seq the settlement's next status event takes, 0 when
	// not known.
	nextSeq int
	// size is rowSize(st), counted once when put.
	size int
}

// rowSize approximates the memory a cached row holds: its request, refs
// and headers, and its other fields and map overhead.
func rowSize(st Settlement) int {
	n := 512 + len(st.Request) + len(st.Fingerprint) + len(st.StoreID) + len(st.OrderID) + len(st.ClientContext) +
		len(st.CorrelationID) + len(st.DeclineReason) + len(st.ParkedReason)
	for k, v := range st.Refs {
		n += 48 + len(k) + len(v)
	}
	for k, v := range st.Headers {
		n += 48 + len(k) + len(v)
	}
	return n
}

func newRowCache() *rowCache { return &rowCache{rows: make(map[Key]cachedRow)} }

// get returns key's cached row. Its maps and request are the cache's own:
// read them, never change them or hand them out (cloneSettlement).
func (c *rowCache) get(key Key) (cachedRow, bool) {
	r, ok := c.rows[key]
	return r, ok
}

// put keeps r (which the cache now owns) as its settlement's row; a
// settlement that stopped moving (a terminal state, or parked: few moves
// follow) or a row above rowCacheMaxRow is dropped instead. Past its
// bounds the cache drops other rows first.
func (c *rowCache) put(r cachedRow) {
	c.drop(r.st.Key)
	if r.st.State.Terminal() || r.st.ParkedReason != "" {
		return
	}
	if r.size = rowSize(r.st); r.size > rowCacheMaxRow {
		return
	}
	for k := range c.rows { // any, until it fits
		if len(c.rows) < rowCacheSize && c.bytes+r.size <= rowCacheBytes {
			break
		}
		c.drop(k)
	}
	c.rows[r.st.Key] = r
	c.bytes += r.size
	c.journal = append(c.journal, r.st.Key)
}

// begin starts the journal of a writer's job: the keys it puts from now.
func (c *rowCache) begin() { c.journal = c.journal[:0] }

// undo forgets the rows the job begun last put: its writes were rolled
// back (a failing job may have moved a settlement before its error).
func (c *rowCache) undo() {
	for _, k := range c.journal {
		c.drop(k)
	}
	c.journal = c.journal[:0]
}

// drop forgets key's row.
func (c *rowCache) drop(key Key) {
	if r, ok := c.rows[key]; ok {
		c.bytes -= r.size
		delete(c.rows, key)
	}
}

// clear forgets every row.
func (c *rowCache) clear() {
	clear(c.rows)
	c.bytes = 0
	c.journal = c.journal[:0]
}

// cloneSettlement is st with maps and request of its own, for a caller.
func cloneSettlement(st Settlement) Settlement {
	st.Refs = maps.Clone(st.Refs)
	st.Headers = maps.Clone(st.Headers)
	if st.Request != nil {
		st.Request = bytes.Clone(st.Request)
	}
	return st
}

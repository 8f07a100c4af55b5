package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// The key filter's sizing: a false-positive rate of keyFilterFalsePositive
// for up to twice the rows found at open plus keyFilterHeadroom keys, and
// no filter at all above keyFilterMaxRows rows. At the bound it is sized
// for 17M keys, about 20 MiB (9.6 bits a key at 1 %); on an empty table,
// for 1M keys, about 1.2 MiB. Keys registered beyond what it was sized
// for raise its false-positive rate (about 16 % at twice its keys), never
// its memory, and a false positive only costs the query Get would have run
// anyway; the next open sizes it for the table as it then is.
const (
	keyFilterFalsePositive = 0.01
	keyFilterHeadroom      = 1 << 20
)

// keyFilterMaxRows bounds the table a key filter is built for: above it,
// Open builds none and Get queries as without it (a variable for the
// tests).
var keyFilterMaxRows int64 = 8_000_000

// keyFilter is a Bloom filter of the keys (provider, request id) of
// SQLite's settlements table, kept by the one process that writes the file
// (lockFile), so that Get answers a key never registered — every new
// request's first read, in handlers.Settlement — without a query on the
// read pool: about 5 % of a loaded worker's CPU went to that query.
//
// It holds because nothing puts a row in settlements but register, which
// adds the key before its INSERT runs (a Get that runs after the commit
// finds it in the filter), and, before the filter exists, the migrations,
// which Open applies before it builds the filter from the table. Another
// process cannot insert: writable opens take the file's exclusive lock,
// read-only ones (operator commands) are query_only. A key added for an
// INSERT that then conflicted or was rolled back (its savepoint, or its
// transaction), and a row deleted, only leave a false positive: Get
// queries, as it did before the filter. Nothing deletes rows today
// (retention empties bodies: PurgeBodies). Tests that insert rows by hand
// through the writer either roll them back or open the file again, which
// builds the filter from the table.
//
// Reads (Get, from any goroutine) and adds (register, on the writer's
// goroutine) take mu; close drops the filter, after which every key may
// be there and Get's query answers as before (a closed store's error).
type keyFilter struct {
	mu sync.RWMutex
	f  *bloom.BloomFilter
}

// newKeyFilter returns an empty key filter sized for n keys.
func newKeyFilter(n uint) *keyFilter {
	return &keyFilter{f: bloom.NewWithEstimates(max(n, 1), keyFilterFalsePositive)}
}

// keyFilterBuf is room enough for most keys' filter text on the stack.
type keyFilterBuf [128]byte

// appendFilterKey appends the text the filter hashes for the key
// (provider, requestID): the provider's length (uvarint), the provider,
// then the request id, so that no two keys share a text (("ab", "c") and
// ("a", "bc") do not).
func appendFilterKey[T ~string | ~[]byte](b []byte, provider, requestID T) []byte {
	b = binary.AppendUvarint(b, uint64(len(provider)))
	b = append(b, provider...)
	return append(b, requestID...)
}

// add records key as possibly in the table.
func (k *keyFilter) add(key Key) {
	var buf keyFilterBuf
	b := appendFilterKey(buf[:0], key.Provider, key.RequestID)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f != nil {
		k.f.Add(b)
	}
}

// mayHold reports whether key may be in the table: false only when no
// row was ever inserted with it (since the filter was built).
func (k *keyFilter) mayHold(key Key) bool {
	var buf keyFilterBuf
	b := appendFilterKey(buf[:0], key.Provider, key.RequestID)
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.f == nil || k.f.Test(b)
}

// close drops the filter's memory; every key may then be there.
func (k *keyFilter) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.f = nil
}

// loadKeyFilter builds the key filter of a writable SQLite store from its
// settlements table, once migrated and before any write (Open): the keys
// are read one row at a time, never all held at once (about 1 µs a row:
// 0.5 s for 500,000 rows on a shared 2-core machine, some seconds near
// the bound). It returns nil, and Get queries for every key, when the
// table has more rows than keyFilterMaxRows.
func loadKeyFilter(ctx context.Context, db *sql.DB) (*keyFilter, error) {
	var rows int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM settlements`).Scan(&rows); err != nil {
		return nil, fmt.Errorf("counting settlements: %w", err)
	}
	if rows > keyFilterMaxRows {
		return nil, nil
	}
	k := newKeyFilter(uint(2*rows + keyFilterHeadroom))
	r, err := db.QueryContext(ctx, `SELECT provider, request_id FROM settlements`)
	if err != nil {
		return nil, fmt.Errorf("reading the settlements' keys: %w", err)
	}
	defer r.Close()
	var provider, requestID sql.RawBytes // valid until the next row: not kept
	var b []byte
	for r.Next() {
		if err := r.Scan(&provider, &requestID); err != nil {
			return nil, fmt.Errorf("reading the settlements' keys: %w", err)
		}
		b = appendFilterKey(b[:0], provider, requestID)
		k.f.Add(b)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("reading the settlements' keys: %w", err)
	}
	return k, nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// The key filter's sizing. Its first Bloom filter is sized at open for
// twice the rows found, and at least keyFilterInitial keys; once it holds
// that many, another filter twice as large is added, and so on (a
// scalable Bloom filter: Almeida et al., 2007). Each takes half the
// false-positive rate of the one before, starting at half of
// keyFilterFalsePositive, so that the series' rate stays below
// keyFilterFalsePositive however many keys are registered, and the
// memory follows the keys: about 90 KiB on an empty table, 1.4 to 2
// bytes a key beyond (the later filters, at lower rates, take more bits a
// key). Past keyFilterMaxKeys keys the filter is dropped
// and Get queries for every key, as without it; above keyFilterMaxRows
// rows at open there is none.
const (
	keyFilterFalsePositive = 0.01
	keyFilterInitial       = 1 << 16
)

// keyFilterMaxKeys bounds the keys a key filter is sized for, together
// (16M keys: about 40 MiB of bits, grown from an empty table; a variable
// for the tests).
var keyFilterMaxKeys uint = 1 << 24

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
// goroutine) take mu. A key is never left out of it: once it would grow
// past keyFilterMaxKeys, or once closed, it is off, every key may be
// there, and Get's query answers as before (a closed store's error).
type keyFilter struct {
	mu sync.RWMutex
	// fs are the filters, each twice the size of the one before; the last
	// takes the adds (room more at its rate), all answer mayHold.
	fs   []*bloom.BloomFilter
	room uint
	last uint // keys the last filter is sized for
	keys uint // keys the filters are sized for, together
	off  bool
}

// newKeyFilter returns an empty key filter whose first Bloom filter is
// sized for n keys.
func newKeyFilter(n uint) *keyFilter {
	k := &keyFilter{}
	k.grow(max(n, 1))
	return k
}

// grow adds a Bloom filter for n keys, at half the false-positive rate of
// the one before.
func (k *keyFilter) grow(n uint) {
	rate := math.Ldexp(keyFilterFalsePositive, -(len(k.fs) + 1))
	k.fs = append(k.fs, bloom.NewWithEstimates(n, rate))
	k.room, k.last, k.keys = n, n, k.keys+n
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
	k.addText(b)
}

// addText adds a key's filter text (appendFilterKey), growing the filter
// when its last Bloom filter is full, or turning it off past its bound.
// The caller holds mu, or has the filter to itself (loadKeyFilter).
func (k *keyFilter) addText(b []byte) {
	if k.off {
		return
	}
	if k.room == 0 {
		next := 2 * k.last
		if k.keys+next > keyFilterMaxKeys {
			k.fs, k.off = nil, true
			return
		}
		k.grow(next)
	}
	k.fs[len(k.fs)-1].Add(b)
	k.room--
}

// mayHold reports whether key may be in the table: false only when no
// row was ever inserted with it (since the filter was built).
func (k *keyFilter) mayHold(key Key) bool {
	var buf keyFilterBuf
	b := appendFilterKey(buf[:0], key.Provider, key.RequestID)
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.off {
		return true
	}
	for i := len(k.fs) - 1; i >= 0; i-- { // the largest holds most keys
		if k.fs[i].Test(b) {
			return true
		}
	}
	return false
}

// bytes is the memory the filter's bits take.
func (k *keyFilter) bytes() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	n := 0
	for _, f := range k.fs {
		n += int(f.Cap() / 8)
	}
	return n
}

// close drops the filter's memory; every key may then be there.
func (k *keyFilter) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fs, k.off = nil, true
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
	k := newKeyFilter(uint(max(2*rows, keyFilterInitial)))
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
		k.addText(b)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("reading the settlements' keys: %w", err)
	}
	return k, nil
}

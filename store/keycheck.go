package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrKeyMismatch is wrapped by CheckKeys' error when this process's keys
// (STORE_ENCRYPTION_KEY, STORE_ENCRYPTION_OLD_KEYS) are not the ones the
// store's bodies are sealed with: a configuration error.
var ErrKeyMismatch = errors.New("the store's bodies are sealed with another key")

// keyCheckText is the constant the key check seals; it is its own
// authenticated data too (it is no settlement's row).
var keyCheckText = []byte("settlement-worker key check v1")

// keyChecker is the store holding the key check (an opened sqlStore).
type keyChecker interface {
	readKeyCheck(ctx context.Context) (value []byte, found bool, err error)
	// writeKeyCheck records value if there is no check yet (was nil), or
	// replaces was with it; it reports whether it wrote.
	writeKeyCheck(ctx context.Context, value, was []byte) (bool, error)
	// newestSealed returns the request body, bound to its row, of the most
	// recently updated settlement whose body is sealed (found=false: none).
	newestSealed(ctx context.Context) (body, ad []byte, found bool, err error)
}

// CheckKeys checks, before a worker seals or opens anything, that keys
// (nil: no STORE_ENCRYPTION_KEY) are those the bodies in st (as Open
// returned it) are sealed with, so that replicas sharing a database never
// seal rows another cannot open. The first process with a key records a
// check value: a constant sealed (AES-GCM) with its current key, from
// which no key can be learnt or cheaply tested. Then:
//
//   - a process without a key, or whose keys (current or old) do not open
//     the check, is refused (ErrKeyMismatch);
//   - one whose OLD key opens it (a rotation: the new key current, the
//     previous one kept in STORE_ENCRYPTION_OLD_KEYS) seals the check
//     again with its current key, so that a process that does not have
//     the new key is refused from then on.
//
// Before the first check is recorded (a database of an earlier version),
// the most recently updated sealed body stands for it: keys that do not
// open it are refused, and nothing is recorded. A process without a key
// on a store with no check and no sealed body records nothing, so that a
// key may be set later; it watches for a check while it runs
// (KeyCheckRecorded) and stops once one is recorded. Errors name the
// settings, never a key.
func CheckKeys(ctx context.Context, st Store, keys *Keyring) error {
	kc, ok := st.(keyChecker)
	if !ok {
		return nil
	}
	for range 2 { // twice: another process may record its check between our read and write
		check, found, err := kc.readKeyCheck(ctx)
		if err != nil {
			return fmt.Errorf("store: reading the key check: %w", err)
		}
		if found {
			return keys.verifyCheck(ctx, kc, check)
		}
		body, ad, sealed, err := kc.newestSealed(ctx)
		if err != nil {
			return fmt.Errorf("store: reading a sealed body: %w", err)
		}
		if sealed && keys.opener(body, ad) < 0 {
			if keys == nil {
				return fmt.Errorf("%w: the store holds sealed bodies and STORE_ENCRYPTION_KEY is not set: set the key the other replicas use", ErrKeyMismatch)
			}
			return fmt.Errorf("%w: the store's most recent sealed body opens with neither STORE_ENCRYPTION_KEY nor STORE_ENCRYPTION_OLD_KEYS: "+
				"set the key the other replicas use (during a rotation, keep the previous key in STORE_ENCRYPTION_OLD_KEYS)", ErrKeyMismatch)
		}
		if keys == nil {
			return nil
		}
		value, err := keys.seal(keyCheckText, keyCheckText)
		if err != nil {
			return fmt.Errorf("store: sealing the key check: %w", err)
		}
		wrote, err := kc.writeKeyCheck(ctx, value, nil)
		if err != nil {
			return fmt.Errorf("store: recording the key check: %w", err)
		}
		if wrote {
			return nil
		}
	}
	return errors.New("store: the key check changed while it was read; start again")
}

// KeyCheckRecorded reports whether st (as Open returned it) holds a key
// check: a replica with a key has started on it. A replica started
// without a key (CheckKeys recorded nothing) watches it while it runs: a
// keyed replica started beside it, at the same moment or later, records
// one, and the keyless replica, which could not open what that one seals,
// must stop (exactly one configuration runs on a store). A store that
// keeps no check (not an opened store) has none.
func KeyCheckRecorded(ctx context.Context, st Store) (bool, error) {
	kc, ok := st.(keyChecker)
	if !ok {
		return false, nil
	}
	_, found, err := kc.readKeyCheck(ctx)
	if err != nil {
		return false, fmt.Errorf("store: reading the key check: %w", err)
	}
	return found, nil
}

// verifyCheck accepts a check one of r's keys opens, sealing it again
// with the current key when an old one opened it.
func (r *Keyring) verifyCheck(ctx context.Context, kc keyChecker, check []byte) error {
	if r == nil {
		return fmt.Errorf("%w: the store's bodies are sealed with a key and STORE_ENCRYPTION_KEY is not set: "+
			"this replica could not read them; set the key the other replicas use", ErrKeyMismatch)
	}
	switch i := r.opener(check, keyCheckText); {
	case i < 0:
		return fmt.Errorf("%w: neither STORE_ENCRYPTION_KEY nor STORE_ENCRYPTION_OLD_KEYS is the key the store's bodies are sealed with "+
			"(recorded by the first replica that set one): this replica would seal rows the others cannot open; "+
			"set the key the other replicas use (during a rotation, keep the previous key in STORE_ENCRYPTION_OLD_KEYS)", ErrKeyMismatch)
	case i > 0:
		value, err := r.seal(keyCheckText, keyCheckText)
		if err != nil {
			return fmt.Errorf("store: sealing the key check: %w", err)
		}
		// Another process may have done it first: then the check no
		// longer is check, and nothing is written.
		if _, err := kc.writeKeyCheck(ctx, value, check); err != nil {
			return fmt.Errorf("store: recording the key check: %w", err)
		}
	}
	return nil
}

// opener returns the position of the key (0: the current one) that opens
// the sealed value v bound to ad, or -1 (v not sealed, or no key opens it).
func (r *Keyring) opener(v, ad []byte) int {
	if r == nil || !bytes.HasPrefix(v, sealedMagic) {
		return -1
	}
	for i, k := range r.keys {
		one := Keyring{keys: []sealKey{k}}
		if _, err := one.open(v, ad); err == nil {
			return i
		}
	}
	return -1
}

func (s *sqlStore) readKeyCheck(ctx context.Context) ([]byte, bool, error) {
	var v []byte
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		return q.QueryRowContext(ctx, `SELECT value FROM store_key_check WHERE id = 1`).Scan(&v)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (s *sqlStore) writeKeyCheck(ctx context.Context, value, was []byte) (bool, error) {
	var n int64
	err := s.writeTx(ctx, func(ctx context.Context, q querier) error {
		var res sql.Result
		var err error
		if was == nil {
			res, err = q.ExecContext(ctx, `INSERT INTO store_key_check (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, value)
		} else {
			res, err = q.ExecContext(ctx, `UPDATE store_key_check SET value = $1 WHERE id = 1 AND value = $2`, value, was)
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

// sealedScanPerState bounds newestSealed's reading: the most recently
// updated rows of each state, through settlements_state_updated.
const sealedScanPerState = 64

// newestSealed is keyChecker.newestSealed, looked for among the
// sealedScanPerState most recently updated rows of each state: a store of
// millions of unsealed rows (a deployment without a key, where no check
// is ever recorded) is not read whole at every start. A store whose
// newest rows are all unsealed but older ones sealed is already mixed;
// the check then stands on the keys alone.
func (s *sqlStore) newestSealed(ctx context.Context) ([]byte, []byte, bool, error) {
	var provider, requestID string
	var body []byte
	var newest time.Time
	found := false
	for _, state := range knownStates {
		err := s.read(ctx, func(ctx context.Context, q querier) error {
			rows, err := q.QueryContext(ctx, `SELECT provider, request_id, request, updated_at FROM settlements
				WHERE state = $1 ORDER BY updated_at DESC LIMIT $2`, string(state), sealedScanPerState)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var p, id string
				var b []byte
				var at time.Time
				if err := rows.Scan(&p, &id, &b, timeCol{t: &at}); err != nil {
					return err
				}
				if bytes.HasPrefix(b, sealedMagic) && (!found || at.After(newest)) {
					provider, requestID, body, newest, found = p, id, b, at, true
				}
			}
			return rows.Err()
		})
		if err != nil {
			return nil, nil, false, err
		}
	}
	if !found {
		return nil, nil, false, nil
	}
	return body, rowData(sealedRequest, Key{Provider: provider, RequestID: requestID}), true, nil
}

package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Card data at rest. A request body may hold a raw card number
// (PaymentAccountUniqueId isToken="false"), and a status event echoes it:
// the store keeps both because a retry, a republished duplicate and the
// outbox relay need them. With a key, Encrypted seals them with AES-256-GCM
// before they reach the database, and so a recorded header value holding a
// card number (crypt_headers.go: the headers that steer money are kept as
// sent); everything else the store holds (states, amounts, ids, provider
// references, masked accounts in logs) is not card data.

// sealedMagic starts every sealed value: "SWE1", then the key id, the
// 12-byte nonce and the GCM ciphertext. A value is bound to its row: its
// authenticated data is the key id, what it is (a request or a status
// event body) and its settlement's provider and requestId, so that a body
// copied into another row (a restore of the wrong row, a hand-made UPDATE)
// does not open there as that settlement's. Its key id is the first 4
// bytes of SHA-256(rowBound || key). Versions before the binding used the
// first 4 bytes of the key's SHA-256 and the key id alone as authenticated
// data: such a value still opens (they cannot be told from others' rows),
// and a version before the binding reads a bound value as sealed with a
// key it does not have (ErrSealed), never as a clear body.
var sealedMagic = []byte("SWE1")

// rowBound derives the key id of row-bound values.
const rowBound = "settlement-worker row-bound v1\x00"

// What a sealed value is, in its authenticated data.
const (
	sealedRequest = "request"
	sealedStatus  = "status event"
)

// rowData is the authenticated data binding a value of kind to the
// settlement key (after the key id). Identifiers hold no NUL (ErrInvalidText).
func rowData(kind string, key Key) []byte {
	return []byte(kind + "\x00" + key.Provider + "\x00" + key.RequestID)
}

// ErrSealed is returned when a sealed value is read with no key (or none of
// the keys) that opens it.
var ErrSealed = errors.New("value is encrypted with a key that is not configured (STORE_ENCRYPTION_KEY, STORE_ENCRYPTION_OLD_KEYS)")

// Keyring seals with its first key and opens with any of them (old keys
// stay until every row sealed with them is gone).
type Keyring struct {
	keys []sealKey
}

type sealKey struct {
	id     [4]byte // of row-bound values
	legacy [4]byte // of values sealed before the row binding
	aead   cipher.AEAD
	mac    []byte // the key of MAC, derived from the key (never the key itself)
}

// macDerivation derives a key's MAC key, distinct from its sealing use.
const macDerivation = "settlement-worker message mac v1\x00"

// MAC is the hex HMAC-SHA256 of data under the current key ("" without
// keys). The worker and its operator commands share the keys
// (STORE_ENCRYPTION_KEY): a replay signs its copies with it
// (broker.ReplayOptions.MAC), which the worker checks (VerifyMAC).
func (r *Keyring) MAC(data []byte) string {
	if r == nil || len(r.keys) == 0 {
		return ""
	}
	return hex.EncodeToString(r.keys[0].sum(data))
}

// VerifyMAC reports whether mac is data's MAC under any of the keys (an old
// key's too: a copy signed before a rotation).
func (r *Keyring) VerifyMAC(data []byte, mac string) bool {
	got, err := hex.DecodeString(mac)
	if r == nil || err != nil || len(got) == 0 {
		return false
	}
	for _, k := range r.keys {
		if hmac.Equal(got, k.sum(data)) {
			return true
		}
	}
	return false
}

func (k sealKey) sum(data []byte) []byte {
	h := hmac.New(sha256.New, k.mac)
	h.Write(data)
	return h.Sum(nil)
}

// ParseKeyring reads base64 256-bit keys: current first, then old ones.
// Errors name the position, never the key.
func ParseKeyring(current string, old []string) (*Keyring, error) {
	if strings.TrimSpace(current) == "" {
		if len(old) > 0 {
			return nil, errors.New("old keys without a current key")
		}
		return nil, nil
	}
	var r Keyring
	for i, k := range append([]string{current}, old...) {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(raw) != 32 {
			which := "the current key"
			if i > 0 {
				which = fmt.Sprintf("old key %d", i)
			}
			return nil, fmt.Errorf("%s must be 32 random bytes in base64 (e.g. openssl rand -base64 32)", which)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		bound := sha256.Sum256(append([]byte(rowBound), raw...))
		var sk sealKey
		copy(sk.id[:], bound[:4])
		copy(sk.legacy[:], sum[:4])
		sk.aead = aead
		m := sha256.Sum256(append([]byte(macDerivation), raw...))
		sk.mac = m[:]
		r.keys = append(r.keys, sk)
	}
	return &r, nil
}

// seal encrypts v with the current key, bound to ad (rowData); nil and
// empty stay as they are.
func (r *Keyring) seal(v, ad []byte) ([]byte, error) {
	if len(v) == 0 || bytes.HasPrefix(v, sealedMagic) {
		return v, nil
	}
	return r.sealAlways(v, ad)
}

// sealAlways encrypts v with the current key, bound to ad, whatever v
// holds (a header value may start like a sealed body).
func (r *Keyring) sealAlways(v, ad []byte) ([]byte, error) {
	k := r.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	head := make([]byte, 0, len(sealedMagic)+len(k.id)+len(nonce)+len(v)+k.aead.Overhead())
	head = append(append(append(head, sealedMagic...), k.id[:]...), nonce...)
	return k.aead.Seal(head, nonce, v, append(k.id[:], ad...)), nil
}

// open decrypts a sealed value bound to ad (rowData), or sealed before the
// binding; a value that is not sealed (recorded before a key was set) is
// returned as it is.
func (r *Keyring) open(v, ad []byte) ([]byte, error) {
	if !bytes.HasPrefix(v, sealedMagic) {
		return v, nil
	}
	return r.openSealed(v, ad, true)
}

// openSealed decrypts v, which must be sealed, bound to ad; legacy allows
// a value sealed before the binding (bodies only: headers were sealed
// bound from the start, and a legacy body must not open as a header).
func (r *Keyring) openSealed(v, ad []byte, legacy bool) ([]byte, error) {
	if !bytes.HasPrefix(v, sealedMagic) {
		return nil, errors.New("decrypt: not a sealed value")
	}
	if r == nil {
		return nil, ErrSealed
	}
	rest := v[len(sealedMagic):]
	if len(rest) < 4 {
		return nil, ErrSealed
	}
	var failed error
	for _, k := range r.keys {
		var data []byte
		switch {
		case bytes.Equal(k.id[:], rest[:4]):
			data = append(k.id[:], ad...)
		case legacy && bytes.Equal(k.legacy[:], rest[:4]):
			data = k.legacy[:]
		default:
			continue
		}
		ns := k.aead.NonceSize()
		if len(rest) < 4+ns {
			return nil, ErrSealed
		}
		pt, err := k.aead.Open(nil, rest[4:4+ns], rest[4+ns:], data)
		if err != nil {
			failed = err // another key may share the id
			continue
		}
		return pt, nil
	}
	if failed != nil {
		return nil, fmt.Errorf("decrypt: %w", failed)
	}
	return nil, ErrSealed
}

// Encrypted returns st sealing request bodies, status event bodies and
// the recorded header values that hold a card number (see sealHeaders)
// with keys before they are stored, and opening them when read. With a nil
// Keyring it only refuses to return sealed values it cannot open (and
// keeps header values as sent).
func Encrypted(st Store, keys *Keyring) Store {
	return &encrypted{Store: st, keys: keys}
}

type encrypted struct {
	Store
	keys *Keyring
}

// sealSettlement is s as the store writes it: its request body sealed
// (with keys) and its headers encoded (sealHeaders).
func (e *encrypted) sealSettlement(s Settlement) (Settlement, error) {
	var err error
	if s.Headers, err = e.sealHeaders(s.Key, s.Headers); err != nil {
		return s, err
	}
	if e.keys == nil {
		return s, nil
	}
	s.Request, err = e.keys.seal(s.Request, rowData(sealedRequest, s.Key))
	return s, err
}

// openSettlement is s as it was given: its request body and headers
// opened, or an error wrapping ErrUnreadable.
func (e *encrypted) openSettlement(s Settlement, err error) (Settlement, error) {
	if err != nil {
		return s, err
	}
	req, err := e.openRequest(s)
	if err != nil {
		return s, err
	}
	headers, err := e.openHeaders(s.Key, s.Headers)
	if err != nil {
		return s, err
	}
	s.Request, s.Headers = req, headers
	return s, nil
}

func (e *encrypted) openRequest(s Settlement) ([]byte, error) {
	req, err := e.keys.open(s.Request, rowData(sealedRequest, s.Key))
	if err != nil {
		return nil, fmt.Errorf("%w: request body of %s: %w", ErrUnreadable, keyText(s.Key), err)
	}
	return req, nil
}

func (e *encrypted) openEvent(ev StatusEvent) (StatusEvent, error) {
	body, err := e.keys.open(ev.Body, rowData(sealedStatus, ev.Key))
	if err != nil {
		return ev, fmt.Errorf("%w: status event %s of %s: %w", ErrUnreadable, ev.MessageID, keyText(ev.Key), err)
	}
	ev.Body = body
	return ev, nil
}

// openSettlements opens every settlement of a read or fails: Find's
// answer (see Store.Find).
func (e *encrypted) openSettlements(ss []Settlement, err error) ([]Settlement, error) {
	if err != nil {
		return nil, err
	}
	for i := range ss {
		if ss[i], err = e.openSettlement(ss[i], nil); err != nil {
			return nil, err
		}
	}
	return ss, nil
}

// openEvents opens every event of a read or fails: Statuses' answer (a
// settlement's events are republished together).
func (e *encrypted) openEvents(evs []StatusEvent, err error) ([]StatusEvent, error) {
	if err != nil {
		return nil, err
	}
	for i := range evs {
		if evs[i], err = e.openEvent(evs[i]); err != nil {
			return nil, err
		}
	}
	return evs, nil
}

// ErrUnreadable is wrapped by the error of a read that met a sealed body
// it cannot open (with ErrSealed for a key that is not configured, or a
// decrypt error for a damaged value).
var ErrUnreadable = errors.New("store: sealed body cannot be opened")

// UnreadableRow is a row a read left out because its sealed body cannot
// be opened. It names the row, never its content.
type UnreadableRow struct {
	Key Key
	// State is the settlement's (Stale); MessageID is the status event's
	// (Unpublished).
	State     State
	MessageID string
	// Err says why (wraps ErrUnreadable, and ErrSealed or a decrypt error).
	Err error
}

// UnreadableError is returned by an encrypted store's Stale and
// Unpublished next to the rows they could read, when they left out some
// whose sealed body cannot be opened (a key no longer configured, a
// damaged value): one such row must not hide the others. It wraps
// ErrUnreadable.
type UnreadableError struct {
	Rows []UnreadableRow
}

func (e *UnreadableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store: %d row(s) left out, their sealed body cannot be opened", len(e.Rows))
	for i, r := range e.Rows {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Rows)-i)
			break
		}
		fmt.Fprintf(&b, "; %v", r.Err)
	}
	return b.String()
}

func (e *UnreadableError) Unwrap() error { return ErrUnreadable }

// readOpened is a limited read (limit <= 0: all rows) whose rows are
// opened with open; a row that cannot be opened is left out and described
// in the *UnreadableError returned with the others. Unreadable rows do not
// go away (they stay the oldest), so when a full read left some out it
// reads again with the limit raised by as many: they cannot crowd the
// readable rows out of every round.
func readOpened[T any](limit int, read func(limit int) ([]T, error), open func(T) (T, error), describe func(T, error) UnreadableRow) ([]T, error) {
	n := limit
	for {
		rows, err := read(n)
		if err != nil {
			return nil, err
		}
		out := make([]T, 0, len(rows))
		var bad []UnreadableRow
		for _, r := range rows {
			o, err := open(r)
			if err != nil {
				bad = append(bad, describe(r, err))
				continue
			}
			out = append(out, o)
		}
		if len(bad) == 0 {
			return out, nil
		}
		if limit > 0 && len(rows) == n && len(out) < limit {
			n = limit + len(bad) // > n: len(rows) - len(bad) < limit
			continue
		}
		if limit > 0 && len(out) > limit { // rows left out before are gone
			out = out[:limit]
		}
		return out, &UnreadableError{Rows: bad}
	}
}

func (e *encrypted) Register(ctx context.Context, s Settlement) (Settlement, bool, error) {
	sealed, err := e.sealSettlement(s)
	if err != nil {
		return s, false, err
	}
	got, created, err := e.Store.Register(ctx, sealed)
	got, err = e.openSettlement(got, err)
	return got, created, err
}

func (e *encrypted) RegisterMoving(ctx context.Context, s Settlement, to State, ch Change) (Settlement, bool, error) {
	sealed, err := e.sealSettlement(s)
	if err != nil {
		return s, false, err
	}
	got, created, err := e.Store.RegisterMoving(ctx, sealed, to, ch)
	got, err = e.openSettlement(got, err)
	return got, created, err
}

func (e *encrypted) Get(ctx context.Context, key Key) (Settlement, error) {
	return e.openSettlement(e.Store.Get(ctx, key))
}

func (e *encrypted) Transition(ctx context.Context, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error) {
	if status != nil && e.keys != nil {
		cp := *status
		body, err := e.keys.seal(cp.Body, rowData(sealedStatus, key))
		if err != nil {
			return Settlement{}, nil, err
		}
		cp.Body = body
		status = &cp
	}
	s, ev, err := e.Store.Transition(ctx, key, from, to, ch, status)
	if err != nil {
		return s, ev, err
	}
	// The transition is committed: an error now would have the caller do
	// again what it recorded (a provider call). A request body that cannot
	// be opened is returned empty, as after retention (PurgeBodies), and a
	// header value that cannot be opened left out; the next read that
	// needs them reports them (Get, Stale).
	if req, oerr := e.openRequest(s); oerr == nil {
		s.Request = req
	} else {
		s.Request = nil
	}
	if headers, herr := e.openHeaders(s.Key, s.Headers); herr == nil {
		s.Headers = headers
	} else {
		s.Headers = e.readableHeaders(s.Key, s.Headers)
	}
	if ev != nil {
		// The event is published from this body: never an empty one. It
		// fails only for an event recorded before under the same DedupKey
		// (sealed with a key no longer configured, or damaged).
		opened, err := e.openEvent(*ev)
		if err != nil {
			return s, nil, fmt.Errorf("transition of %s to %s committed, but its status event cannot be read: %w", keyText(key), to, err)
		}
		ev = &opened
	}
	return s, ev, nil
}

func (e *encrypted) Statuses(ctx context.Context, key Key) ([]StatusEvent, error) {
	return e.openEvents(e.Store.Statuses(ctx, key))
}

func (e *encrypted) Find(ctx context.Context, c Correlation) ([]Settlement, error) {
	return e.openSettlements(e.Store.Find(ctx, c))
}

// Stale leaves out a settlement whose request body cannot be opened (see
// Store.Stale).
func (e *encrypted) Stale(ctx context.Context, providers []string, states []State, before time.Time, after StaleCursor, limit int) ([]Settlement, error) {
	return readOpened(limit, func(limit int) ([]Settlement, error) {
		return e.Store.Stale(ctx, providers, states, before, after, limit)
	}, func(s Settlement) (Settlement, error) {
		return e.openSettlement(s, nil)
	}, func(s Settlement, err error) UnreadableRow {
		return UnreadableRow{Key: s.Key, State: s.State, Err: err}
	})
}

// Unpublished leaves out a status event whose body cannot be opened (see
// Store.Unpublished).
func (e *encrypted) Unpublished(ctx context.Context, before time.Time, after OutboxCursor, limit int) ([]StatusEvent, error) {
	return readOpened(limit, func(limit int) ([]StatusEvent, error) {
		return e.Store.Unpublished(ctx, before, after, limit)
	}, e.openEvent, func(ev StatusEvent, err error) UnreadableRow {
		return UnreadableRow{Key: ev.Key, MessageID: ev.MessageID, Err: err}
	})
}

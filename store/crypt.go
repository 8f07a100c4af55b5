package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Card data at rest. A request body may hold a raw card number
// (PaymentAccountUniqueId isToken="false"), and a status event echoes it:
// the store keeps both because a retry, a republished duplicate and the
// outbox relay need them. With a key, Encrypted seals them with AES-256-GCM
// before they reach the database; everything else the store holds (states,
// amounts, ids, provider references, masked accounts in logs) is not card
// data.

// sealedMagic starts every sealed value: "SWE1", then the key id (the first
// 4 bytes of the key's SHA-256), the 12-byte nonce and the GCM ciphertext.
var sealedMagic = []byte("SWE1")

// ErrSealed is returned when a sealed value is read with no key (or none of
// the keys) that opens it.
var ErrSealed = errors.New("value is encrypted with a key that is not configured (STORE_ENCRYPTION_KEY, STORE_ENCRYPTION_OLD_KEYS)")

// Keyring seals with its first key and opens with any of them (old keys
// stay until every row sealed with them is gone).
type Keyring struct {
	keys []sealKey
}

type sealKey struct {
	id   [4]byte
	aead cipher.AEAD
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
		var sk sealKey
		copy(sk.id[:], sum[:4])
		sk.aead = aead
		r.keys = append(r.keys, sk)
	}
	return &r, nil
}

// seal encrypts v with the current key (nil and empty stay as they are).
func (r *Keyring) seal(v []byte) ([]byte, error) {
	if len(v) == 0 || bytes.HasPrefix(v, sealedMagic) {
		return v, nil
	}
	k := r.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	head := make([]byte, 0, len(sealedMagic)+len(k.id)+len(nonce)+len(v)+k.aead.Overhead())
	head = append(append(append(head, sealedMagic...), k.id[:]...), nonce...)
	return k.aead.Seal(head, nonce, v, k.id[:]), nil
}

// open decrypts a sealed value; a value that is not sealed (recorded
// before a key was set) is returned as it is.
func (r *Keyring) open(v []byte) ([]byte, error) {
	if !bytes.HasPrefix(v, sealedMagic) {
		return v, nil
	}
	if r == nil {
		return nil, ErrSealed
	}
	rest := v[len(sealedMagic):]
	if len(rest) < 4 {
		return nil, ErrSealed
	}
	for _, k := range r.keys {
		if !bytes.Equal(k.id[:], rest[:4]) {
			continue
		}
		ns := k.aead.NonceSize()
		if len(rest) < 4+ns {
			break
		}
		pt, err := k.aead.Open(nil, rest[4:4+ns], rest[4+ns:], k.id[:])
		if err != nil {
			return nil, fmt.Errorf("decrypt: %w", err)
		}
		return pt, nil
	}
	return nil, ErrSealed
}

// Encrypted returns st sealing request bodies and status event bodies with
// keys before they are stored, and opening them when read. With a nil
// Keyring it only refuses to return sealed values it cannot open.
func Encrypted(st Store, keys *Keyring) Store {
	return &encrypted{Store: st, keys: keys}
}

type encrypted struct {
	Store
	keys *Keyring
}

func (e *encrypted) sealSettlement(s Settlement) (Settlement, error) {
	if e.keys == nil {
		return s, nil
	}
	var err error
	s.Request, err = e.keys.seal(s.Request)
	return s, err
}

func (e *encrypted) openSettlement(s Settlement, err error) (Settlement, error) {
	if err != nil {
		return s, err
	}
	req, oerr := e.keys.open(s.Request)
	if oerr != nil {
		return s, fmt.Errorf("request body of %s: %w", s.RequestID, oerr)
	}
	s.Request = req
	return s, nil
}

func (e *encrypted) openEvent(ev StatusEvent) (StatusEvent, error) {
	body, err := e.keys.open(ev.Body)
	if err != nil {
		return ev, fmt.Errorf("status event %s: %w", ev.MessageID, err)
	}
	ev.Body = body
	return ev, nil
}

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
		body, err := e.keys.seal(cp.Body)
		if err != nil {
			return Settlement{}, nil, err
		}
		cp.Body = body
		status = &cp
	}
	s, ev, err := e.Store.Transition(ctx, key, from, to, ch, status)
	if s, err = e.openSettlement(s, err); err != nil {
		return s, ev, err
	}
	if ev != nil {
		opened, err := e.openEvent(*ev)
		if err != nil {
			return s, nil, err
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

func (e *encrypted) Stale(ctx context.Context, states []State, before time.Time, limit int) ([]Settlement, error) {
	return e.openSettlements(e.Store.Stale(ctx, states, before, limit))
}

func (e *encrypted) Unpublished(ctx context.Context, before time.Time, limit int) ([]StatusEvent, error) {
	return e.openEvents(e.Store.Unpublished(ctx, before, limit))
}

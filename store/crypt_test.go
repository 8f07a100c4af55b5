package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/store"
)

const (
	pan       = "4111111111111111"
	keyA      = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	keyB      = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=" // 32 bytes
	reqBody   = `<PaymentSettlementRequest><PaymentAccountUniqueId isToken="false">` + pan + `</PaymentAccountUniqueId></PaymentSettlementRequest>`
	eventBody = `<PaymentSettlementStatus><PaymentAccountUniqueId isToken="false">` + pan + `</PaymentAccountUniqueId></PaymentSettlementStatus>`
)

// With STORE_ENCRYPTION_KEY, request and status event bodies (which may
// hold a raw card number) are sealed before they reach the database and
// opened when read; an old key still opens what it sealed; without the
// key a sealed value is an error, never ciphertext passed on as a body.
func TestEncryptedStoreKeepsNoCardNumberInClear(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	plain, err := store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ringA, err := store.ParseKeyring(keyA, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := store.Encrypted(plain, ringA)
	key := store.Key{Provider: "radial", RequestID: "r-pan"}
	s, _, err := st.Register(ctx, store.Settlement{Key: key, StoreID: "S", OrderID: "O", SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: []byte(reqBody), ContentType: "application/xml"})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Request) != reqBody {
		t.Fatalf("Register returned %q", s.Request)
	}
	_, ev, err := st.Transition(ctx, key, []store.State{store.StateReceived}, store.StateSettled, store.Change{}, &store.StatusEvent{Key: key, DedupKey: "final", MessageID: "m-1", SettlementStatus: "S", Body: []byte(eventBody)})
	if err != nil || string(ev.Body) != eventBody {
		t.Fatalf("Transition: %v, body %q", err, ev.Body)
	}

	// What the database holds.
	raw, err := plain.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	rawEvs, err := plain.Statuses(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]byte{"request": raw.Request, "status event": rawEvs[0].Body} {
		if bytes.Contains(v, []byte(pan)) || !bytes.HasPrefix(v, []byte("SWE1")) {
			t.Errorf("%s stored as %q: want it sealed", name, v)
		}
	}

	// Read back, after the key was rotated (A is now an old key).
	ringBA, err := store.ParseKeyring(keyB, []string{keyA})
	if err != nil {
		t.Fatal(err)
	}
	rotated := store.Encrypted(plain, ringBA)
	got, err := rotated.Get(ctx, key)
	if err != nil || string(got.Request) != reqBody {
		t.Errorf("Get after rotation: %v, %q", err, got.Request)
	}
	evs, err := rotated.Statuses(ctx, key)
	if err != nil || string(evs[0].Body) != eventBody {
		t.Errorf("Statuses after rotation: %v", err)
	}
	found, err := rotated.Find(ctx, store.Correlation{Provider: "radial", StoreID: "S", OrderID: "O"})
	if err != nil || len(found) != 1 || string(found[0].Request) != reqBody {
		t.Errorf("Find: %v %d", err, len(found))
	}

	// Without the key that sealed them.
	for name, ring := range map[string]*store.Keyring{"no key": nil, "another key": mustRing(t, keyB)} {
		if _, err := store.Encrypted(plain, ring).Get(ctx, key); !errors.Is(err, store.ErrSealed) {
			t.Errorf("%s: Get = %v, want ErrSealed", name, err)
		}
	}
}

func mustRing(t *testing.T, k string) *store.Keyring {
	t.Helper()
	r, err := store.ParseKeyring(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseKeyringRefusesBadKeys(t *testing.T) {
	for _, tc := range []struct {
		cur string
		old []string
	}{{"short", nil}, {"bm90IDMyIGJ5dGVz", nil}, {keyA, []string{"nope"}}, {"", []string{keyA}}} {
		if _, err := store.ParseKeyring(tc.cur, tc.old); err == nil {
			t.Errorf("ParseKeyring(%q, %q) accepted", tc.cur, tc.old)
		} else if bytes.Contains([]byte(err.Error()), []byte(keyA)) {
			t.Errorf("error shows a key: %v", err)
		}
	}
	if r, err := store.ParseKeyring("", nil); r != nil || err != nil {
		t.Errorf("no key: %v %v, want nil nil", r, err)
	}
}

// damaged is a sealed value made with keyB's id whose ciphertext is not
// keyB's: what a flipped byte or a bad restore leaves.
func damaged(t *testing.T) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(keyB)
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(raw)
	return append(append([]byte("SWE1"), id[:4]...), bytes.Repeat([]byte{7}, 12+32)...)
}

// TestEncryptedReadsLeaveOutUnreadableRows: one row whose sealed body
// cannot be opened — sealed with a key no longer configured, or damaged —
// is left out of Stale and Unpublished, named in an *UnreadableError, and
// the readable rows are returned, even when the unreadable one is the
// oldest and the read is limited to one row. Before, the first such row
// failed the whole read: the sweeper's relay read nothing and its round
// stopped there, every round (TestReview2OneUnreadableEventHidesTheWholeOutbox).
// Find and Statuses still fail (a caller must not miss a settlement), and
// a Transition of such a settlement is committed and not reported as
// failed (its Request comes back empty).
func TestEncryptedReadsLeaveOutUnreadableRows(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		sealed bool // ErrSealed (no such key), else a decrypt error
		// store records the unreadable rows, given the plain store.
		store func(plain store.Store) store.Store
		body  func() []byte
	}{
		{"sealed with a key no longer configured", true,
			func(plain store.Store) store.Store { return store.Encrypted(plain, mustRing(t, keyA)) },
			func() []byte { return []byte(eventBody) }},
		{"damaged", false,
			func(plain store.Store) store.Store { return plain },
			func() []byte { return damaged(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			plain, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			st := store.Encrypted(plain, mustRing(t, keyB)) // the configured key
			// The unreadable rows first: the oldest.
			for _, r := range []struct {
				st       store.Store
				id       string
				terminal bool
			}{
				{c.store(plain), "bad-event", true}, {c.store(plain), "bad-stale", false},
				{st, "good-event", true}, {st, "good-stale", false},
			} {
				key := store.Key{Provider: "radial", RequestID: r.id}
				s := store.Settlement{Key: key, StoreID: "S", OrderID: "O", SettlementType: "Debit", Amount: "1.00", Currency: "USD",
					Request: c.body(), ContentType: "application/xml"}
				if r.st == st {
					s.Request = []byte(reqBody)
				}
				if _, _, err := r.st.Register(ctx, s); err != nil {
					t.Fatal(err)
				}
				if r.terminal {
					if _, _, err := r.st.Transition(ctx, key, nil, store.StateSettled, store.Change{},
						&store.StatusEvent{DedupKey: "final", SettlementStatus: "S", Body: s.Request}); err != nil {
						t.Fatal(err)
					}
				}
			}
			checkUnreadable := func(what string, err error, id string) {
				t.Helper()
				var ue *store.UnreadableError
				if !errors.As(err, &ue) || !errors.Is(err, store.ErrUnreadable) || len(ue.Rows) != 1 || ue.Rows[0].Key.RequestID != id {
					t.Fatalf("%s: error %v, want an UnreadableError naming %s", what, err, id)
				}
				if got := errors.Is(ue.Rows[0].Err, store.ErrSealed); got != c.sealed {
					t.Errorf("%s: errors.Is(%v, ErrSealed) = %v, want %v", what, ue.Rows[0].Err, got, c.sealed)
				}
				if strings.Contains(err.Error(), pan) {
					t.Errorf("%s: error shows the content: %v", what, err)
				}
			}
			later := time.Now().Add(time.Hour)
			for _, limit := range []int{0, 1} {
				evs, err := st.Unpublished(ctx, later, store.OutboxCursor{}, limit)
				checkUnreadable(fmt.Sprintf("Unpublished(limit %d)", limit), err, "bad-event")
				if len(evs) != 1 || evs[0].RequestID != "good-event" || string(evs[0].Body) != reqBody {
					t.Errorf("Unpublished(limit %d) = %d events; want good-event's, opened", limit, len(evs))
				}
				ss, err := st.Stale(ctx, nil, []store.State{store.StateReceived}, later, store.StaleCursor{}, limit)
				checkUnreadable(fmt.Sprintf("Stale(limit %d)", limit), err, "bad-stale")
				if len(ss) != 1 || ss[0].RequestID != "good-stale" || string(ss[0].Request) != reqBody {
					t.Errorf("Stale(limit %d) = %d settlements; want good-stale, opened", limit, len(ss))
				}
			}
			if ss, err := st.Find(ctx, store.Correlation{Provider: "radial", OrderID: "O"}); !errors.Is(err, store.ErrUnreadable) || ss != nil {
				t.Errorf("Find = %d settlements, %v; want an error wrapping ErrUnreadable", len(ss), err)
			}
			if evs, err := st.Statuses(ctx, store.Key{Provider: "radial", RequestID: "bad-event"}); !errors.Is(err, store.ErrUnreadable) || evs != nil {
				t.Errorf("Statuses = %d events, %v; want an error wrapping ErrUnreadable", len(evs), err)
			}
			bad := store.Key{Provider: "radial", RequestID: "bad-stale"}
			s, _, err := st.Transition(ctx, bad, []store.State{store.StateReceived}, store.StateConfirming, store.Change{Note: "attempt 1"}, nil)
			if err != nil || s.State != store.StateConfirming || len(s.Request) != 0 {
				t.Errorf("Transition of an unreadable settlement = %s, %d request bytes, %v; want it committed, its request empty, no error", s.State, len(s.Request), err)
			}
			if _, err := st.Get(ctx, bad); !errors.Is(err, store.ErrUnreadable) {
				t.Errorf("Get = %v, want an error wrapping ErrUnreadable", err)
			}
		})
	}
}

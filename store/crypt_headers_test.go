package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

// rawDB opens a store of backend kind ("sqlite" or "postgres") and, next
// to it, the database itself: what a person with the database's files or
// a dump reads.
func rawDB(t *testing.T, kind string) (store.Store, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	var dsn, driver, source string
	if kind == "sqlite" {
		path := filepath.Join(t.TempDir(), "s.db")
		dsn, driver, source = "sqlite:"+path, "sqlite", path
	} else {
		dsn = testenv.PostgresDSN(t)
		driver, source = "pgx", dsn
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return st, db
}

// rawHeaders is the headers column of a settlement as the database holds it.
func rawHeaders(t *testing.T, db *sql.DB, key store.Key) string {
	t.Helper()
	var h string
	if err := db.QueryRow(`SELECT headers FROM settlements WHERE provider = $1 AND request_id = $2`, key.Provider, key.RequestID).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// holdsPAN reports whether s holds the test card number, as written or
// with spaces inside.
func holdsPAN(s string) bool {
	return strings.Contains(strings.ReplaceAll(s, " ", ""), pan)
}

// headerSettlement is a settlement recorded with headers and no body
// (what a read refuses is then the headers' doing).
func headerSettlement(key store.Key, headers map[string]string) store.Settlement {
	return store.Settlement{Key: key, StoreID: "S", OrderID: "O-" + key.RequestID, SettlementType: "Debit", Amount: "1.00",
		Currency: "USD", ContentType: "application/xml", Headers: headers}
}

// TestSealedHeadersKeepNoCardNumberInClear: the headers that steer money
// (store_id, tender_type, original_authorization_amount, a provider's
// own, e.g. Paysafe's authorization_id) are recorded as sent, because a
// duplicate's identity and the sweeper's re-drive compare and send them.
// A card number a sender put in one stayed in the clear in the headers
// column even with STORE_ENCRYPTION_KEY set. With a key, a value holding a
// card number is now sealed (bound to its row and header name) and opened
// when read, by every read, also after a rotation; other values stay as
// they are.
func TestSealedHeadersKeepNoCardNumberInClear(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			plain, db := rawDB(t, kind)
			st := store.Encrypted(plain, mustRing(t, keyA))
			key := store.Key{Provider: "paysafe", RequestID: "r-hdr"}
			sent := map[string]string{
				"authorization_id":              pan,
				"original_authorization_amount": "4111 1111 1111 1111",
				"Authorization_Id":              "card " + pan,
				"store_id":                      "S",
				"tender_type":                   "VC",
				"x-trace":                       "t-1",
			}
			s, created, err := st.Register(ctx, headerSettlement(key, sent))
			if err != nil || !created {
				t.Fatalf("Register: %v, created %v", err, created)
			}
			if !maps.Equal(s.Headers, sent) {
				t.Errorf("Register returned headers %q, want %q", s.Headers, sent)
			}
			raw := rawHeaders(t, db, key)
			if holdsPAN(raw) {
				t.Errorf("the %s headers column holds the card number in clear: %s", kind, raw)
			}
			for _, v := range []string{`"store_id":"S"`, `"tender_type":"VC"`, `"x-trace":"t-1"`} {
				if !strings.Contains(raw, v) {
					t.Errorf("headers column %s: want %s kept as it is (no card number)", raw, v)
				}
			}

			reads := map[string]func(st store.Store) (store.Settlement, error){
				"Get": func(st store.Store) (store.Settlement, error) { return st.Get(ctx, key) },
				"Find": func(st store.Store) (store.Settlement, error) {
					ss, err := st.Find(ctx, store.Correlation{Provider: key.Provider, StoreID: "S", OrderID: "O-" + key.RequestID})
					if err == nil && len(ss) != 1 {
						err = errors.New("not found")
					}
					if err != nil {
						return store.Settlement{}, err
					}
					return ss[0], nil
				},
				"Stale": func(st store.Store) (store.Settlement, error) {
					ss, err := st.Stale(ctx, nil, []store.State{store.StateReceived}, time.Now().Add(time.Hour), store.StaleCursor{}, 0)
					if err == nil && len(ss) != 1 {
						err = errors.New("not found")
					}
					if err != nil {
						return store.Settlement{}, err
					}
					return ss[0], nil
				},
				"Register again": func(st store.Store) (store.Settlement, error) {
					s, _, err := st.Register(ctx, headerSettlement(key, nil))
					return s, err
				},
				"Transition": func(st store.Store) (store.Settlement, error) {
					s, _, err := st.Transition(ctx, key, nil, store.StateReceived, store.Change{Note: "read"}, nil)
					return s, err
				},
			}
			rotated := store.Encrypted(plain, ringOf(t, keyB, keyA))
			for name, read := range reads {
				for ring, st := range map[string]store.Store{"current key": st, "rotated (the key now old)": rotated} {
					got, err := read(st)
					if err != nil || !maps.Equal(got.Headers, sent) {
						t.Errorf("%s with the %s: %v, headers %q; want %q", name, ring, err, got.Headers, sent)
					}
				}
			}
			for name, ring := range map[string]*store.Keyring{"no key": nil, "another key": mustRing(t, keyB)} {
				if _, err := store.Encrypted(plain, ring).Get(ctx, key); !errors.Is(err, store.ErrUnreadable) {
					t.Errorf("%s: Get = %v, want ErrUnreadable (never the sealed text as the header)", name, err)
				}
			}
		})
	}
}

func ringOf(t *testing.T, current string, old ...string) *store.Keyring {
	t.Helper()
	r, err := store.ParseKeyring(current, old)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// setRawHeaders writes a settlement's headers column as it is: a restore
// of the wrong row, a hand-made UPDATE.
func setRawHeaders(t *testing.T, db *sql.DB, key store.Key, headers map[string]string) {
	t.Helper()
	b, err := json.Marshal(headers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE settlements SET headers = $1 WHERE provider = $2 AND request_id = $3`, string(b), key.Provider, key.RequestID); err != nil {
		t.Fatal(err)
	}
}

// TestSealedHeaderIsBoundToItsRowAndName: a sealed header value opens only
// as the header it was sealed for, in its row. Moved to another
// settlement's row or under another header name (Paysafe's
// authorization_id as its settlement_id), its read fails (ErrUnreadable),
// never giving another settlement's or another header's value.
func TestSealedHeaderIsBoundToItsRowAndName(t *testing.T) {
	ctx := context.Background()
	plain, db := rawDB(t, "sqlite")
	st := store.Encrypted(plain, mustRing(t, keyA))
	a := store.Key{Provider: "paysafe", RequestID: "req-A"}
	b := store.Key{Provider: "paysafe", RequestID: "req-B"}
	for _, k := range []store.Key{a, b} {
		if _, _, err := st.Register(ctx, headerSettlement(k, map[string]string{"authorization_id": pan, "settlement_id": "7"})); err != nil {
			t.Fatal(err)
		}
	}
	rawA, err := plain.Get(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	sealed := rawA.Headers["authorization_id"]
	if holdsPAN(sealed) {
		t.Fatalf("authorization_id stored as %q: want it sealed", sealed)
	}
	for _, c := range []struct {
		name    string
		key     store.Key
		headers map[string]string
	}{
		{"A's value in B's row", b, map[string]string{"authorization_id": sealed, "settlement_id": "7"}},
		{"A's value under another header of A", a, map[string]string{"authorization_id": "9", "settlement_id": sealed}},
		{"A's value under another case of its name", a, map[string]string{"Authorization_ID": sealed, "settlement_id": "7"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			setRawHeaders(t, db, c.key, c.headers)
			if s, err := st.Get(ctx, c.key); !errors.Is(err, store.ErrUnreadable) {
				t.Errorf("Get = %v, headers %q; want ErrUnreadable, never a value sealed for another row or header", err, s.Headers)
			}
			if ss, err := st.Stale(ctx, nil, []store.State{store.StateReceived}, time.Now().Add(time.Hour), store.StaleCursor{}, 0); !errors.Is(err, store.ErrUnreadable) {
				t.Errorf("Stale = %v; want the row left out with ErrUnreadable", err)
			} else {
				for _, s := range ss {
					if s.Key == c.key {
						t.Errorf("Stale returned the row with headers %q", s.Headers)
					}
				}
			}
		})
	}
}

// TestHeaderEncodingTellsSealedFromSent: no value a sender writes is taken
// for a sealed one. A header sent as exactly what the store writes for a
// sealed value (or any value starting like it) is read back as sent, with
// or without a key; values recorded before headers were sealed (a card
// number in clear) read as they are; without a key a value is kept as
// sent (the worker warns at start that it stores them in clear).
func TestHeaderEncodingTellsSealedFromSent(t *testing.T) {
	ctx := context.Background()
	plain, _ := rawDB(t, "sqlite")
	keyed := store.Encrypted(plain, mustRing(t, keyA))
	src := store.Key{Provider: "paysafe", RequestID: "req-src"}
	if _, _, err := keyed.Register(ctx, headerSettlement(src, map[string]string{"authorization_id": pan})); err != nil {
		t.Fatal(err)
	}
	raw, err := plain.Get(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	sealed := raw.Headers["authorization_id"]
	forged := map[string]string{
		"authorization_id": sealed,                          // a sealed value, sent as a header
		"settlement_id":    sealed[:len(sealed)-4] + "AAAA", // one that would not open
		"x-lead":           sealed[:1] + "x",                // the first character alone
		"x-empty":          "",
	}
	for i, ring := range []*store.Keyring{mustRing(t, keyA), nil} {
		st := store.Encrypted(plain, ring)
		key := store.Key{Provider: "paysafe", RequestID: "req-forged-" + string(rune('a'+i))}
		s, _, err := st.Register(ctx, headerSettlement(key, forged))
		if err != nil || !maps.Equal(s.Headers, forged) {
			t.Errorf("keys %v: Register = %v, headers %q; want them as sent", ring != nil, err, s.Headers)
		}
		for name, read := range map[string]store.Store{"the same keys": st, "the key": keyed} {
			if got, err := read.Get(ctx, key); err != nil || !maps.Equal(got.Headers, forged) {
				t.Errorf("keys %v, read with %s: Get = %v, headers %q; want them as sent", ring != nil, name, err, got.Headers)
			}
		}
	}

	old := store.Key{Provider: "paysafe", RequestID: "req-old"}
	if _, _, err := plain.Register(ctx, headerSettlement(old, map[string]string{"authorization_id": pan})); err != nil {
		t.Fatal(err)
	}
	if got, err := keyed.Get(ctx, old); err != nil || got.Headers["authorization_id"] != pan {
		t.Errorf("a row recorded before headers were sealed: %v, %q", err, got.Headers)
	}

	keyless := store.Key{Provider: "paysafe", RequestID: "req-keyless"}
	if _, _, err := store.Encrypted(plain, nil).Register(ctx, headerSettlement(keyless, map[string]string{"authorization_id": pan})); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Encrypted(plain, nil).Get(ctx, keyless); err != nil || got.Headers["authorization_id"] != pan {
		t.Errorf("without a key: %v, %q", err, got.Headers)
	}
}

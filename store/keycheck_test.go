package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

// CheckKeys on a database of an earlier version (no key check recorded,
// bodies already sealed) goes by the most recent sealed body: a replica
// with another key, or none, is refused and records nothing (else it would
// record its wrong key and refuse the right ones); the right key records
// the check, which then refuses the others. A store whose rows are in
// clear may get a key (nothing recorded without one). SQLite and
// PostgreSQL.
func TestCheckKeys(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
			if dialect == "postgres" {
				dsn = testenv.PostgresDSN(t)
			}
			raw, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			ring := func(cur string, old ...string) *store.Keyring {
				r, err := store.ParseKeyring(cur, old)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			register := func(keys *store.Keyring, id string) {
				t.Helper()
				_, _, err := store.Encrypted(raw, keys).Register(ctx, store.Settlement{Key: store.Key{Provider: "radial", RequestID: id},
					StoreID: "S", OrderID: "O-" + id, SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: []byte(reqBody), ContentType: "application/xml"})
				if err != nil {
					t.Fatal(err)
				}
			}
			check := func(name string, keys *store.Keyring, mismatch bool) {
				t.Helper()
				err := store.CheckKeys(ctx, raw, keys)
				switch {
				case mismatch && !errors.Is(err, store.ErrKeyMismatch):
					t.Fatalf("%s: CheckKeys = %v, want ErrKeyMismatch", name, err)
				case !mismatch && err != nil:
					t.Fatalf("%s: CheckKeys = %v", name, err)
				case err != nil && (strings.Contains(err.Error(), keyA) || strings.Contains(err.Error(), keyB) || !strings.Contains(err.Error(), "STORE_ENCRYPTION_KEY")):
					t.Fatalf("%s: %v: want the setting named, no key", name, err)
				}
			}

			register(nil, "clear-1") // a worker without a key
			check("no key, clear rows", nil, false)
			register(ring(keyA), "sealed-A") // a key set later, by a version without the check
			check("key B, rows sealed with A, no check yet", ring(keyB), true)
			check("no key, rows sealed with A, no check yet", nil, true)
			check("key A", ring(keyA), false) // records the check
			check("key B, the check recorded", ring(keyB), true)
			check("no key, the check recorded", nil, true)
			check("key A again", ring(keyA), false)
			check("rotation: B, A old", ring(keyB, keyA), false) // seals the check with B
			check("after the rotation: A alone", ring(keyA), true)
			check("after the rotation: A, B old", ring(keyA, keyB), false)
		})
	}
}

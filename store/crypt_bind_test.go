package store_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/store"
)

// TestSealedBodyIsBoundToItsRow: a sealed body opens only in the row it
// was sealed for. Before, the authenticated data was the key id alone, so
// settlement A's sealed request copied into B's row (a restore of the
// wrong row, a bad migration, a hand-made UPDATE) opened as B's request:
// the sweeper republished A's request for B (B never resumed, A ran
// again), and Radial's status for B was echoed from A's request — a
// verdict on B published under A's requestId and order, with A's amount.
// Now the request is bound to its provider and requestId and a status
// event body to its settlement; a body moved to another row is unreadable
// (ErrUnreadable, never another settlement's body). A value sealed by an
// earlier version (key id only) still opens where it is.
func TestSealedBodyIsBoundToItsRow(t *testing.T) {
	ctx := context.Background()
	ring := mustRing(t, keyA)
	bodyOf := func(id, amount string) string {
		return `<PaymentSettlementRequest><RequestId>` + id + `</RequestId><Amount>` + amount + `</Amount>` +
			`<PaymentAccountUniqueId isToken="false">` + pan + `</PaymentAccountUniqueId></PaymentSettlementRequest>`
	}
	for _, c := range []struct {
		name string
		// copy puts a value read raw from A's rows into B's, through the
		// plain store, and returns the read of B that must refuse it.
		copy func(t *testing.T, plain store.Store, a, b store.Key) error
	}{
		{"A's request in B's row", func(t *testing.T, plain store.Store, a, b store.Key) error {
			rawA, err := plain.Get(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			registerRaw(t, plain, b, rawA.Request)
			enc := store.Encrypted(plain, ring)
			if ss, err := enc.Stale(ctx, nil, []store.State{store.StateReceived}, time.Now().Add(time.Hour), store.StaleCursor{}, 0); err == nil {
				for _, s := range ss {
					if s.Key == b {
						t.Errorf("Stale returned B with request %q", s.Request)
					}
				}
			}
			_, err = enc.Get(ctx, b)
			return err
		}},
		{"A's status event in B's row", func(t *testing.T, plain store.Store, a, b store.Key) error {
			evs, err := plain.Statuses(ctx, a)
			if err != nil || len(evs) != 1 {
				t.Fatalf("statuses of A: %v %d", err, len(evs))
			}
			registerRaw(t, plain, b, nil)
			if _, _, err := plain.Transition(ctx, b, nil, store.StateSettled, store.Change{},
				&store.StatusEvent{DedupKey: "final", SettlementStatus: "S", Body: evs[0].Body}); err != nil {
				t.Fatal(err)
			}
			_, err = store.Encrypted(plain, ring).Statuses(ctx, b)
			return err
		}},
		{"A's request as A's status event", func(t *testing.T, plain store.Store, a, b store.Key) error {
			rawA, err := plain.Get(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			registerRaw(t, plain, b, nil)
			if _, _, err := plain.Transition(ctx, a, nil, store.StateSettled, store.Change{},
				&store.StatusEvent{DedupKey: "again", SettlementStatus: "S", Body: rawA.Request}); err != nil {
				t.Fatal(err)
			}
			_, err = store.Encrypted(plain, ring).Statuses(ctx, a)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			plain, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			st := store.Encrypted(plain, ring)
			a := store.Key{Provider: "radial", RequestID: "req-A"}
			b := store.Key{Provider: "radial", RequestID: "req-B"}
			if _, _, err := st.Register(ctx, store.Settlement{Key: a, StoreID: "S", OrderID: "OA", SettlementType: "Debit",
				Amount: "900.00", Currency: "USD", Request: []byte(bodyOf("req-A", "900.00")), ContentType: "application/xml"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.Transition(ctx, a, nil, store.StateSettled, store.Change{},
				&store.StatusEvent{DedupKey: "final", SettlementStatus: "S", Body: []byte(eventBody)}); err != nil {
				t.Fatal(err)
			}
			err = c.copy(t, plain, a, b)
			if !errors.Is(err, store.ErrUnreadable) {
				t.Errorf("read of the moved body = %v; want ErrUnreadable, never another row's body", err)
			}
		})
	}

	// A value an earlier version sealed (its authenticated data the key id
	// alone) still opens in its own row.
	plain, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "legacy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	k := store.Key{Provider: "radial", RequestID: "req-old"}
	registerRaw(t, plain, k, legacySeal(t, keyA, []byte(reqBody)))
	if s, err := store.Encrypted(plain, ring).Get(ctx, k); err != nil || string(s.Request) != reqBody {
		t.Errorf("legacy sealed request: %v, %q", err, s.Request)
	}
}

// registerRaw registers key with request stored as it is.
func registerRaw(t *testing.T, plain store.Store, key store.Key, request []byte) {
	t.Helper()
	if _, _, err := plain.Register(context.Background(), store.Settlement{Key: key, StoreID: "S", OrderID: "O-" + key.RequestID,
		SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: request, ContentType: "application/xml"}); err != nil {
		t.Fatal(err)
	}
}

// legacySeal seals v as versions before the row binding did: "SWE1", the
// key id, the nonce, the ciphertext with the key id as authenticated data.
func legacySeal(t *testing.T, key string, v []byte) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	nonce := bytes.Repeat([]byte{9}, aead.NonceSize())
	head := append(append([]byte("SWE1"), sum[:4]...), nonce...)
	return aead.Seal(head, nonce, v, sum[:4])
}

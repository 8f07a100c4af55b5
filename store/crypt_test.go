package store_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

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

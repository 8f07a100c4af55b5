package handlers

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// keyedRig is a rig on a store sealed with STORE_ENCRYPTION_KEY (testKeyring),
// with the SQLite file it writes, and the handler's log lines.
func keyedRig(t *testing.T, p *scripted) (*rig, string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	plain, err := store.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Close() })
	r := newRig(t, p)
	r.st = store.Encrypted(plain, testKeyring(t))
	r.h.Store = r.st
	var logs bytes.Buffer
	r.h.Log = zerolog.New(&logs)
	return r, path, &logs
}

// rawHeadersColumn is a settlement's headers column as the SQLite file
// holds it.
func rawHeadersColumn(t *testing.T, path string, key store.Key) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h string
	if err := db.QueryRow(`SELECT headers FROM settlements WHERE provider = ? AND request_id = ?`, key.Provider, key.RequestID).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// A card number a sender put in a header that steers money (Paysafe's
// authorization_id, original_authorization_amount, which reads it as an
// amount) was recorded in the clear in the settlement's headers column
// even with STORE_ENCRYPTION_KEY: those headers are kept as sent, for the
// identity of a duplicate and the sweeper's re-drive. It is now sealed at
// rest and opened when read: a duplicate carrying the same header is the
// recorded request and resumes it (settled once, not parked); one with
// another value is parked naming the header. No reason, worker-set
// header, history note nor log line holds the number.
func TestCardNumberInAMoneyHeaderIsSealedAtRest(t *testing.T) {
	const authID = "authorization_id" // paysafe.HeaderAuthorizationID
	for _, tc := range []struct {
		name, header, value, other string
	}{
		{"provider money header", authID, leakPAN, "AUTH-2"},
		{"provider money header, spaced", authID, "auth " + spacedPAN, "auth " + dashedPAN},
		{"original authorization amount", HeaderOriginalAuthAmount, leakPAN, "150.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("paysafe", providers.Facts{MoneyHeaders: []string{authID}})
			// The first delivery does not finish (a transient error: a
			// retry); the duplicate resumes it.
			p.confirmErrs = []error{providers.TransientError("", "timeout", nil)}
			r, path, logs := keyedRig(t, p)
			key := store.Key{Provider: "paysafe", RequestID: "req-1"}
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{tc.header: tc.value}))
			checkNoLeak(t, "first delivery", r.pub.take())

			if raw := rawHeadersColumn(t, path, key); leaks(raw) {
				t.Errorf("the headers column holds the card number in clear: %s", raw)
			}
			if s := r.get(t, "req-1"); strings.TrimSpace(s.Headers[tc.header]) != strings.TrimSpace(tc.value) {
				t.Errorf("header %s read back as %q, want %q as sent", tc.header, s.Headers[tc.header], tc.value)
			}

			// The same request and header again: the recorded request.
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{tc.header: tc.value}))
			sent := r.pub.take()
			checkNoLeak(t, "duplicate", sent)
			only(t, sent, statusQ)
			s := r.get(t, "req-1")
			if s.State != store.StateSettled || s.ParkedReason != "" {
				t.Errorf("duplicate with the same header: %s, parked %q; want it resumed and settled", s.State, s.ParkedReason)
			}
			if _, _, ledger := p.counts(); ledger["req-1"] != 1 {
				t.Errorf("ledger %d captures, want 1", ledger["req-1"])
			}

			// Another value: parked, naming the header, never the number.
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{tc.header: tc.other}))
			sent = r.pub.take()
			checkNoLeak(t, "duplicate with another value", sent)
			parked := only(t, sent, broker.ParkedQueue("paysafe"))
			if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "header "+tc.header) {
				t.Errorf("parked_reason %q does not name header %s", reason, tc.header)
			}
			if _, _, ledger := p.counts(); ledger["req-1"] != 1 {
				t.Errorf("ledger %d captures, want 1", ledger["req-1"])
			}

			s = r.get(t, "req-1")
			if leaks(s.DeclineReason) || leaks(s.ParkedReason) {
				t.Errorf("store reasons hold the card number: decline %q, parked %q", s.DeclineReason, s.ParkedReason)
			}
			hist, err := r.st.History(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(hist); leaks(string(b)) {
				t.Errorf("history holds the card number: %s", b)
			}
			if leaks(logs.String()) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			}
		})
	}
}

// checkNoLeak fails when a header the worker sets on a message it sends
// (parked reason, last error, …) or a status event's DeclineReason holds
// the card number. The request headers a parked copy carries are the
// delivery's own, as sent (a replay sends them again).
func checkNoLeak(t *testing.T, when string, sent []sentMsg) {
	t.Helper()
	for _, m := range sent {
		for _, h := range []string{HeaderParkedReason, HeaderLastError, HeaderParkedFrom, HeaderParkedAttempts} {
			if v := m.msg.Metadata.Get(h); leaks(v) {
				t.Errorf("%s: header %s of the message to %s holds the card number: %q", when, h, m.key, v)
			}
		}
		if strings.HasPrefix(m.key, statusQ) {
			st, err := messages.DecodeSettlementStatus(m.msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if leaks(st.DeclineReason) {
				t.Errorf("%s: status event's DeclineReason holds the card number: %q", when, st.DeclineReason)
			}
		}
	}
}

// The sweeper re-sends a settlement stuck in flight from its stored row,
// headers included: a money header sealed at rest must go out opened, as
// the sender sent it (a duplicate compares it), never as its stored
// marked form; so must the copy it parks.
func TestSweeperSendsASealedMoneyHeaderAsSent(t *testing.T) {
	const authID = "authorization_id" // paysafe.HeaderAuthorizationID
	p := newScripted("paysafe", providers.Facts{MoneyHeaders: []string{authID}})
	p.confirmErrs = []error{providers.TransientError("", "timeout", nil)}
	r, path, _ := keyedRig(t, p)
	key := store.Key{Provider: "paysafe", RequestID: "req-1"}
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{authID: leakPAN}))
	r.pub.take()
	if raw := rawHeadersColumn(t, path, key); leaks(raw) || !strings.Contains(raw, `\u0000SWE1:`) {
		t.Fatalf("headers column %s: want the value sealed", raw)
	}
	w := r.sweeper(2 * time.Minute)
	if rep, err := w.Sweep(context.Background()); err != nil || rep.Resumed != 1 {
		t.Fatalf("sweep %+v, %v: want req-1 resumed", rep, err)
	}
	resent := only(t, r.pub.take(), broker.RequestQueue("paysafe"))
	if got := resent.Metadata.Get(authID); got != leakPAN {
		t.Errorf("re-sent %s = %q, want it as sent", authID, got)
	}
	// Parked by the sweeper (here by markInvalid's and parkStored's
	// storedRequest, the same rebuild): the copy carries it as sent too.
	s := r.get(t, "req-1")
	if msg := storedRequest(s); msg.Metadata.Get(authID) != leakPAN {
		t.Errorf("a parked copy's %s = %q, want it as sent", authID, msg.Metadata.Get(authID))
	}
}

package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// cacheRig is one store the same writes are made on: its sqlStore, the
// Store they go through (the sqlStore, or Encrypted over it).
type cacheRig struct {
	s  *sqlStore
	st Store
}

// openCacheRig opens a fresh SQLite file (or ":memory:", whose reads run
// on the writer) with clock, with the row cache or without it (the path
// every transition took before the cache), and through Encrypted when
// keys is not nil.
func openCacheRig(t *testing.T, clock func() time.Time, cached, memory bool, keys *Keyring) cacheRig {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	if memory {
		dsn = "sqlite::memory:"
	}
	st, err := Open(context.Background(), dsn, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	if !cached {
		s.rows = nil // before any write: the writer reads it only in a job
	}
	r := cacheRig{s: s, st: s}
	if keys != nil {
		r.st = Encrypted(s, keys)
	}
	return r
}

// outcome is what a caller is told: the row (its request body summed),
// the event and the error.
func outcome(st Settlement, ev *StatusEvent, err error) string {
	body := fmt.Sprintf("%d bytes %x", len(st.Request), sha256.Sum256(st.Request))
	if st.Request == nil {
		body = "nil"
	}
	st.Request = nil
	e := "<nil>"
	if ev != nil {
		e = fmt.Sprintf("%+v", *ev)
	}
	return fmt.Sprintf("%+v request %s\n  event %s\n  err %v", st, body, e, err)
}

// TestRowCacheAnswersAsTheUncachedPath runs the same writes on a store
// with the row cache and on one without it, and wants every answer (row,
// event, error) and every read after (row, events, history) the same:
// events with and without a DedupKey, a known DedupKey again, an event
// whose INSERT fails after its UPDATE succeeded (alone, and in a batch
// beside other writes of the same settlement), parked and unparked,
// text that the store cleans, refs changed within one state, events
// after a terminal state, conflicts; with a fixed clock (updated_at the
// same across writes) and a moving one, plain, through Encrypted and on
// ":memory:".
func TestRowCacheAnswersAsTheUncachedPath(t *testing.T) {
	keys, err := ParseKeyring("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 21, 0, 0, 123456789, time.FixedZone("x", 3600))
	clocks := map[string]func() func() time.Time{
		"fixed clock": func() func() time.Time { return func() time.Time { return at } },
		"moving clock": func() func() time.Time {
			var mu sync.Mutex
			n := 0
			return func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				n++
				return at.Add(time.Duration(n) * 1500 * time.Nanosecond)
			}
		},
	}
	for clockName, clock := range clocks {
		for _, v := range []struct{ sealed, memory bool }{{false, false}, {true, false}, {false, true}} {
			t.Run(fmt.Sprintf("%s sealed=%v memory=%v", clockName, v.sealed, v.memory), func(t *testing.T) {
				var k *Keyring
				if v.sealed {
					k = keys
				}
				with := runCacheScript(t, openCacheRig(t, clock(), true, v.memory, k), v.sealed, at)
				without := runCacheScript(t, openCacheRig(t, clock(), false, v.memory, k), v.sealed, at)
				if len(with) != len(without) {
					t.Fatalf("%d answers with the cache, %d without", len(with), len(without))
				}
				for i := range with {
					if with[i] != without[i] {
						t.Errorf("answer %d differs\nwith the cache:\n%s\nwithout:\n%s", i, with[i], without[i])
					}
				}
			})
		}
	}
}

// runCacheScript makes the writes of TestRowCacheAnswersAsTheUncachedPath
// on r and returns every answer and the reads after, as text. Sealed rows'
// bodies are random: their events' bodies are left out of the text.
func runCacheScript(t *testing.T, r cacheRig, sealed bool, at time.Time) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	a, b := sample("a"), sample("b")
	aKey, bKey := a.Key, b.Key
	reg := func(in Settlement) {
		st, created, err := r.st.Register(ctx, in)
		out = append(out, fmt.Sprintf("register %v: ", created)+outcome(st, nil, err))
	}
	// moveInto makes a transition and writes its answer to *slot.
	moveInto := func(slot *string, key Key, from []State, to State, ch Change, ev *StatusEvent) func() error {
		return func() error {
			st, got, err := r.st.Transition(ctx, key, from, to, ch, ev)
			if got != nil {
				c := *got
				if sealed {
					c.Body = nil
				}
				if ev.MessageID == "" { // the store's own, and the DedupKey with it
					c.MessageID, c.DedupKey = "(random)", "(random)"
				}
				got = &c
			}
			*slot = fmt.Sprintf("%s %v->%s: ", key.RequestID, from, to) + outcome(st, got, err)
			return err
		}
	}
	move := func(key Key, from []State, to State, ch Change, ev *StatusEvent) func() error {
		return func() error {
			var slot string
			err := moveInto(&slot, key, from, to, ch, ev)()
			out = append(out, slot)
			return err
		}
	}
	do := func(f func() error) { _ = f() }
	event := func(dedup, msg string) *StatusEvent {
		return &StatusEvent{DedupKey: dedup, MessageID: msg, SettlementStatus: "P", Body: []byte("<status " + msg + "/>")}
	}
	sub, ack, pend := []State{StateSubmitting}, []State{StateAcknowledged}, []State{StatePending}

	reg(a)
	reg(b)
	reg(a) // a known key: the row as stored
	do(move(aKey, []State{StateReceived}, StateConfirming, Change{IncAttempts: true,
		Refs: map[string]string{"callSentAt": "t1", "odd\xff": "x\xffy\u2028<&>", "nul": "a\x00b"}}, nil))
	do(move(aKey, []State{StateConfirming}, StateSubmitting, Change{IfAttempts: 1,
		IfRefs: map[string]string{"callSentAt": "t1", "odd\ufffd": "x\ufffdy\u2028<&>"}, DeclineReason: ptr("bad\x00\xfftext")}, nil))
	do(move(aKey, sub, StateSubmitting, Change{IfRefs: map[string]string{"callSentAt": "t0"}}, nil)) // conflict
	do(move(aKey, sub, StateAcknowledged, Change{Note: "acknowledged"}, event("ack", "m1")))
	do(move(aKey, ack, StatePending, Change{}, event("P1", "m2")))
	do(move(aKey, pend, StatePending, Change{}, event("P1", "m3")))          // a known DedupKey
	do(move(aKey, pend, StatePending, Change{}, event("", "m4")))            // no DedupKey
	do(move(aKey, pend, StatePending, Change{}, event("", "m4")))            // its message id again: fails alone
	do(move(aKey, pend, StatePending, Change{Note: "after"}, event("", ""))) // a message id of the store's

	// A batch: a's event, the same event again (its INSERT fails after
	// its UPDATE: rolled back to its savepoint), b, then a's next event.
	batch := make([]string, 5)
	release := blockWriter(t, r.s.w)
	wait := queue(t, r.s.w,
		moveInto(&batch[0], aKey, pend, StatePending, Change{Note: "batch 1"}, event("", "m5")),
		moveInto(&batch[1], aKey, pend, StatePending, Change{Note: "batch 2"}, event("", "m5")),
		moveInto(&batch[2], bKey, []State{StateReceived}, StateConfirming, Change{IncAttempts: true}, nil),
		moveInto(&batch[3], aKey, pend, StatePending, Change{Note: "batch 3", IncAttempts: true}, event("P2", "m6")),
		moveInto(&batch[4], aKey, pend, StatePending, Change{Refs: map[string]string{"callSentAt": "t2"}}, nil),
	)
	release()
	errs := wait()
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] != nil || errs[4] != nil {
		t.Errorf("batch errors %v, want the second's only", errs)
	}
	out = append(out, batch...)
	do(move(aKey, pend, StatePending, Change{IfRefs: map[string]string{"callSentAt": "t2"}, IfAttempts: 2}, event("P3", "m7")))
	do(move(aKey, pend, StatePending, Change{ParkedReason: ptr("a person looks")}, nil))
	do(move(aKey, pend, StatePending, Change{IfNotParked: true}, event("P4", "m8"))) // parked: conflict
	do(move(aKey, pend, StatePending, Change{ParkedReason: ptr("")}, nil))
	do(move(aKey, pend, StatePending, Change{IfNotParked: true}, event("P4", "m8")))
	do(move(aKey, pend, StateSettled, Change{DeclineReason: ptr("")}, event("S", "m9")))
	do(move(aKey, []State{StateSettled}, StateRefused, Change{Note: "chargeback"}, event("R", "m10")))
	do(move(aKey, []State{StateSettled}, StateRefused, Change{}, event("R", "m11"))) // conflict
	// Retention empties a's body (finished); a later move returns it empty.
	n, err := r.st.PurgeBodies(ctx, at.Add(time.Hour), 0)
	if n != 1 || err != nil {
		t.Errorf("purged %d, %v; want a's body", n, err)
	}
	do(move(aKey, []State{StateRefused}, StateRefused, Change{Note: "after retention"}, nil))
	do(move(bKey, nil, StateSubmitting, Change{IncAttempts: true, Via: []Waypoint{{State: StateConfirmed, Note: "via"}}}, nil))
	do(move(bKey, sub, StateAcknowledged, Change{}, event("ack", "m12")))

	// A body too large to keep (rowCacheMaxRow): its moves read the row.
	big := sample("big")
	big.Request = bytes.Repeat([]byte("<x/>"), rowCacheMaxRow/4+1)
	reg(big)
	do(move(big.Key, []State{StateReceived}, StateSubmitting, Change{IncAttempts: true}, nil))
	do(move(big.Key, sub, StateAcknowledged, Change{}, event("ack", "m13")))
	do(move(big.Key, ack, StatePending, Change{}, event("P", "m14")))

	for _, key := range []Key{aKey, bKey, big.Key} {
		st, err := r.st.Get(ctx, key)
		out = append(out, "get "+key.RequestID+": "+outcome(st, nil, err))
		evs, err := r.st.Statuses(ctx, key)
		for _, ev := range evs {
			if sealed {
				ev.Body = nil
			}
			if len(ev.MessageID) == 36 { // the store's own, and the DedupKey with it
				ev.MessageID, ev.DedupKey = "(random)", "(random)"
			}
			out = append(out, fmt.Sprintf("event %+v", ev))
		}
		out = append(out, fmt.Sprint("statuses err ", err))
		h, err := r.st.History(ctx, key)
		out = append(out, fmt.Sprintf("history %+v %v", h, err))
	}
	return out
}

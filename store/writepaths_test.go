package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
)

// sameSettlement fails unless got is want exactly: every field, nil and
// empty maps and slices told apart, times down to their representation.
func sameSettlement(e *env, what string, got, want Settlement) {
	e.Helper()
	if !reflect.DeepEqual(got, want) {
		e.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// testRegisterReturnsTheStoredRow: what Register and RegisterMoving return
// for a new settlement is what Get reads back (SQLite builds it from the
// values it inserted instead of reading it), and for a known one the row
// as stored.
func testRegisterReturnsTheStoredRow(e *env) {
	full := sample("rr-full")
	bare := Settlement{Key: Key{Provider: "acme", RequestID: "rr-bare"}}
	empty := sample("rr-empty")
	empty.Request, empty.Headers = []byte{}, map[string]string{}
	odd := sample("rr-odd")
	odd.ClientContext = `<ctx a="1"> & "quotes" ünïcödé ✓`
	odd.Headers = map[string]string{"x-<tag>": "a&b", "x-uni": "ü ✓", "": "empty key"}
	odd.Request = bytes.Repeat([]byte{0, 0xff, '<'}, 1000)
	ignored := sample("rr-ignored") // a new settlement starts clean
	ignored.State, ignored.Attempts, ignored.DeclineReason, ignored.ParkedReason = StateSettled, 9, "d", "p"
	ignored.Refs = map[string]string{"ignored": "yes"}

	cases := []struct {
		name string
		in   Settlement
		move *move // nil: Register
	}{
		{"Register", full, nil},
		{"Register without request, headers or refs", bare, nil},
		{"Register with an empty request and headers", empty, nil},
		{"Register with markup and non-ASCII text", odd, nil},
		{"Register ignores state, attempts, refs and reasons", ignored, nil},
		{"RegisterMoving", withID(full, "rm-full"), &move{StateConfirming, Change{IncAttempts: true, Note: "attempt 1"}}},
		{"RegisterMoving bare", withID(bare, "rm-bare"), &move{StateConfirming, Change{}}},
		{"RegisterMoving with an empty request and headers", withID(empty, "rm-empty"), &move{StateConfirming, Change{Refs: map[string]string{}}}},
		{"RegisterMoving with refs, reasons and waypoints", withID(odd, "rm-odd"), &move{StateSubmitting, Change{
			Refs:          map[string]string{"b": "2", "a": "<1>", "ü": "✓"},
			DeclineReason: ptr("declined"), ParkedReason: ptr("parked"), IncAttempts: true, Note: "to submitting",
			Via: []Waypoint{{StateConfirming, "w1"}, {StateConfirmed, "w2"}}}}},
		{"RegisterMoving with empty reasons", withID(full, "rm-empty-reasons"), &move{StateWithheld, Change{DeclineReason: ptr(""), ParkedReason: ptr("")}}},
	}
	for _, c := range cases {
		register := func() (Settlement, bool, error) {
			if c.move == nil {
				return e.st.Register(e.ctx, c.in)
			}
			return e.st.RegisterMoving(e.ctx, c.in, c.move.to, c.move.ch)
		}
		got, created, err := register()
		if err != nil || !created {
			e.Errorf("%s: created %v, %v", c.name, created, err)
			continue
		}
		stored := e.get(c.in.Key)
		sameSettlement(e, c.name+": returned vs Get", got, stored)
		if c.move != nil && (got.State != c.move.to || len(e.history(c.in.Key)) != 2+len(c.move.ch.Via)) {
			e.Errorf("%s: state %s, history %s", c.name, got.State, states(e.history(c.in.Key)))
		}
		// A known key: the stored row, unchanged, whatever is passed.
		c.in.Amount, c.in.Request = "999.99", []byte("other")
		again, created, err := register()
		if err != nil || created {
			e.Errorf("%s again: created %v, %v", c.name, created, err)
			continue
		}
		sameSettlement(e, c.name+": known key vs Get", again, stored)
	}
}

func withID(s Settlement, id string) Settlement {
	s.RequestID = id
	return s
}

// testTransitionApplies: a transition from each kind of from (one state,
// several, any) applies its change as documented (refs merged, attempts
// counted, a reason replaced only when given), returns the row as Get then
// reads it, and appends its history lines in order, all at its time.
func testTransitionApplies(e *env) {
	base := func(id string) Key {
		key := e.register(sample(id)).Key
		e.transition(key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true,
			Refs: map[string]string{"a": "1", "b": "2"}, DeclineReason: ptr("d0"), ParkedReason: ptr("p0")}, nil)
		return key
	}
	many := make([]Waypoint, 6) // a transition of seven lines
	for i := range many {
		many[i] = Waypoint{State: []State{StateConfirmed, StateSubmitting}[i%2], Note: fmt.Sprint("w", i)}
	}
	cases := []struct {
		name     string
		from     []State
		to       State
		ch       Change
		refs     map[string]string
		attempts int
		decline  string
		parked   string
		lines    []histLine
	}{
		{"one from state", []State{StateConfirming}, StateSubmitting, Change{Note: "n"},
			map[string]string{"a": "1", "b": "2"}, 1, "d0", "p0", []histLine{{StateConfirming, StateSubmitting, "n"}}},
		{"several from states", []State{StateReceived, StateConfirming, StatePending}, StateAcknowledged, Change{},
			map[string]string{"a": "1", "b": "2"}, 1, "d0", "p0", []histLine{{StateConfirming, StateAcknowledged, ""}}},
		{"any state", nil, StateConfirming, Change{Note: "same"},
			map[string]string{"a": "1", "b": "2"}, 1, "d0", "p0", []histLine{{StateConfirming, StateConfirming, "same"}}},
		{"refs merged", []State{StateConfirming}, StateConfirmed, Change{Refs: map[string]string{"b": "3", "c": "<4>"}},
			map[string]string{"a": "1", "b": "3", "c": "<4>"}, 1, "d0", "p0", []histLine{{StateConfirming, StateConfirmed, ""}}},
		{"empty refs map", []State{StateConfirming}, StateConfirmed, Change{Refs: map[string]string{}},
			map[string]string{"a": "1", "b": "2"}, 1, "d0", "p0", []histLine{{StateConfirming, StateConfirmed, ""}}},
		{"attempt counted", []State{StateConfirming}, StateSubmitting, Change{IncAttempts: true},
			map[string]string{"a": "1", "b": "2"}, 2, "d0", "p0", []histLine{{StateConfirming, StateSubmitting, ""}}},
		{"reasons replaced", []State{StateConfirming}, StateWithheld, Change{DeclineReason: ptr("d1"), ParkedReason: ptr("")},
			map[string]string{"a": "1", "b": "2"}, 1, "d1", "", []histLine{{StateConfirming, StateWithheld, ""}}},
		{"a waypoint", []State{StateConfirming}, StateSubmitting, Change{Note: "n", Via: []Waypoint{{StateConfirmed, "w"}}},
			map[string]string{"a": "1", "b": "2"}, 1, "d0", "p0",
			[]histLine{{StateConfirming, StateConfirmed, "w"}, {StateConfirmed, StateSubmitting, "n"}}},
		{"many waypoints", []State{StateConfirming, StateSubmitting}, StateAcknowledged, Change{Note: "n", Via: many},
			map[string]string{"a": "1", "b": "2"}, 1, "d0", "p0", func() []histLine {
				from, out := StateConfirming, []histLine{}
				for _, w := range many {
					out = append(out, histLine{from, w.State, w.Note})
					from = w.State
				}
				return append(out, histLine{from, StateAcknowledged, "n"})
			}()},
	}
	for i, c := range cases {
		key := base(fmt.Sprint("ta-", i))
		before := len(e.history(key))
		got, ev := e.transition(key, c.from, c.to, c.ch, nil)
		if ev != nil {
			e.Errorf("%s: event %+v without a status", c.name, ev)
		}
		sameSettlement(e, c.name+": returned vs Get", got, e.get(key))
		if got.State != c.to || !maps.Equal(got.Refs, c.refs) || got.Attempts != c.attempts ||
			got.DeclineReason != c.decline || got.ParkedReason != c.parked {
			e.Errorf("%s: got %s refs %v attempts %d reasons %q %q; want %s %v %d %q %q", c.name,
				got.State, got.Refs, got.Attempts, got.DeclineReason, got.ParkedReason, c.to, c.refs, c.attempts, c.decline, c.parked)
		}
		h := e.history(key)[before:]
		var lines []histLine
		for _, tr := range h {
			lines = append(lines, histLine{tr.From, tr.To, tr.Note})
			if !tr.At.Equal(got.UpdatedAt) {
				e.Errorf("%s: history line at %v, transition at %v", c.name, tr.At, got.UpdatedAt)
			}
		}
		if !slices.Equal(lines, c.lines) {
			e.Errorf("%s: history lines %v, want %v", c.name, lines, c.lines)
		}
	}
}

// testTransitionFails: an unknown key and a settlement in another state
// fail with ErrNotFound and ErrStateConflict, their messages as they have
// always been, and change nothing (no row update, history line or event).
func testTransitionFails(e *env) {
	key := e.register(sample("tf")).Key
	e.transition(key, []State{StateReceived}, StateConfirming, Change{Refs: map[string]string{"a": "1"}}, nil)
	missing := Key{Provider: "acme", RequestID: "tf-missing"}
	event := &StatusEvent{DedupKey: "final", MessageID: "m-tf", SettlementStatus: "S", Body: []byte("<S/>")}
	cases := []struct {
		name   string
		key    Key
		from   []State
		status *StatusEvent
		is     error
		msg    string
	}{
		{"unknown key", missing, []State{StateReceived}, nil, ErrNotFound, "store: settlement not found: acme/tf-missing"},
		{"unknown key, any state", missing, nil, nil, ErrNotFound, "store: settlement not found: acme/tf-missing"},
		{"unknown key, several states", missing, []State{StateReceived, StateConfirming}, nil, ErrNotFound, "store: settlement not found: acme/tf-missing"},
		{"unknown key with an event", missing, []State{StateReceived}, event, ErrNotFound, "store: settlement not found: acme/tf-missing"},
		{"another state", key, []State{StateReceived}, nil, ErrStateConflict,
			"store: settlement is not in the expected state: acme/tf is confirming, not [received]"},
		{"other states", key, []State{StateReceived, StateSubmitting}, nil, ErrStateConflict,
			"store: settlement is not in the expected state: acme/tf is confirming, not [received submitting]"},
		{"another state with an event", key, []State{StateAcknowledged, StatePending}, event, ErrStateConflict,
			"store: settlement is not in the expected state: acme/tf is confirming, not [acknowledged pending]"},
	}
	for _, c := range cases {
		var before Settlement
		if c.key == key {
			before = e.get(key)
		}
		history := len(e.history(c.key))
		got, ev, err := e.st.Transition(e.ctx, c.key, c.from, StateSettled,
			Change{IncAttempts: true, Refs: map[string]string{"b": "2"}, DeclineReason: ptr("x")}, c.status)
		if !errors.Is(err, c.is) || err.Error() != c.msg {
			e.Errorf("%s: error %v, want %q", c.name, err, c.msg)
		}
		if !reflect.DeepEqual(got, Settlement{}) || ev != nil {
			e.Errorf("%s: returned %+v, %+v; want nothing", c.name, got, ev)
		}
		if c.key == key {
			sameSettlement(e, c.name+": row after", e.get(key), before)
		} else if _, err := e.st.Get(e.ctx, c.key); !errors.Is(err, ErrNotFound) {
			e.Errorf("%s: Get after = %v, want ErrNotFound", c.name, err)
		}
		if h := e.history(c.key); len(h) != history {
			e.Errorf("%s: history %s", c.name, states(h))
		}
		if evs := e.statuses(c.key); len(evs) != 0 {
			e.Errorf("%s: events %+v", c.name, evs)
		}
	}
}

// testStatusEventPaths: the status event recorded with a transition, step
// by step on one settlement: a new event takes the next seq (per
// settlement), a known DedupKey returns the existing event (even when the
// new one's message_id is another event's), a message_id already taken
// fails the whole transition, an event without a DedupKey is never
// deduplicated, and the seqs have no gaps.
func testStatusEventPaths(e *env) {
	other := e.register(sample("se-other")).Key
	e.transition(other, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-other", SettlementStatus: "S"})
	key := e.register(sample("se")).Key
	// Step i's event has the body "step i".
	steps := []struct {
		name         string
		dedup, msgID string
		fails        bool // the message_id is taken: nothing changes
		// The event returned (unless fails); msgID "" when generated.
		seq                   int
		msgIDOut, dedupOut    string
		body                  string
		recorded              bool // a new event, not an existing one
		events, historyGrowth int  // after the step
	}{
		{"new", "final", "m-1", false, 1, "m-1", "final", "step 0", true, 1, 1},
		{"known dedup key", "final", "m-2", false, 1, "m-1", "final", "step 0", false, 1, 1},
		{"known dedup key, another settlement's message id", "final", "m-other", false, 1, "m-1", "final", "step 0", false, 1, 1},
		{"new dedup key, another settlement's message id", "second", "m-other", true, 0, "", "", "", false, 1, 0},
		{"new dedup key, this settlement's message id", "second", "m-1", true, 0, "", "", "", false, 1, 0},
		{"no dedup key", "", "m-3", false, 2, "m-3", "m-3", "step 5", true, 2, 1},
		{"no dedup key, a message id taken", "", "m-3", true, 0, "", "", "", false, 2, 0},
		{"no dedup key, no message id", "", "", false, 3, "", "", "step 7", true, 3, 1},
		{"a dedup key equal to an earlier message id", "m-3", "m-4", false, 2, "m-3", "m-3", "step 5", false, 3, 1},
		{"new dedup key after failures", "third", "m-5", false, 4, "m-5", "third", "step 9", true, 4, 1},
	}
	for i, c := range steps {
		before, history := e.get(key), len(e.history(key))
		got, ev, err := e.st.Transition(e.ctx, key, nil, StateSettled, Change{Note: c.name, IncAttempts: true},
			&StatusEvent{DedupKey: c.dedup, MessageID: c.msgID, SettlementStatus: "S", Body: []byte(fmt.Sprint("step ", i))})
		switch {
		case c.fails:
			if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStateConflict) || ev != nil {
				e.Errorf("%s: %+v, %v; want an error", c.name, ev, err)
			}
			sameSettlement(e, c.name+": row after", e.get(key), before)
		case err != nil || ev == nil:
			e.Errorf("%s: %+v, %v", c.name, ev, err)
		default:
			if got.Attempts != before.Attempts+1 {
				e.Errorf("%s: the transition was not applied: attempts %d", c.name, got.Attempts)
			}
			msgID, dedup := c.msgIDOut, c.dedupOut
			if msgID == "" { // generated: a UUID, also the dedup key
				if len(ev.MessageID) != 36 || ev.DedupKey != ev.MessageID {
					e.Errorf("%s: generated message id %q, dedup key %q", c.name, ev.MessageID, ev.DedupKey)
				}
				msgID, dedup = ev.MessageID, ev.MessageID
			}
			if ev.Key != key || ev.Seq != c.seq || ev.MessageID != msgID || ev.DedupKey != dedup ||
				string(ev.Body) != c.body || ev.SettlementStatus != "S" || ev.PublishedAt != nil {
				e.Errorf("%s: event %+v (body %q), want seq %d message id %q dedup key %q body %q", c.name, ev, ev.Body, c.seq, msgID, dedup, c.body)
			}
			if c.recorded && !ev.CreatedAt.Equal(got.UpdatedAt) {
				e.Errorf("%s: event created at %v, transition at %v", c.name, ev.CreatedAt, got.UpdatedAt)
			}
			if evs := e.statuses(key); len(evs) >= c.seq {
				stored := evs[c.seq-1]
				if stored.Key != ev.Key || stored.Seq != ev.Seq || stored.MessageID != ev.MessageID || stored.DedupKey != ev.DedupKey ||
					!bytes.Equal(stored.Body, ev.Body) || !stored.CreatedAt.Equal(ev.CreatedAt) || stored.PublishedAt != nil {
					e.Errorf("%s: returned %+v, stored %+v", c.name, ev, stored)
				}
			}
		}
		evs := e.statuses(key)
		var seqs []int
		for _, ev := range evs {
			seqs = append(seqs, ev.Seq)
		}
		if want := seqsUpTo(c.events); !slices.Equal(seqs, want) {
			e.Errorf("%s: seqs %v, want %v", c.name, seqs, want)
		}
		if h := e.history(key); len(h) != history+c.historyGrowth {
			e.Errorf("%s: history grew by %d lines, want %d", c.name, len(h)-history, c.historyGrowth)
		}
	}
	if evs := e.statuses(other); len(evs) != 1 || evs[0].MessageID != "m-other" {
		e.Errorf("other settlement's events: %+v", evs)
	}
}

func seqsUpTo(n int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		out = append(out, i)
	}
	return out
}

// TestSQLiteStatementsPerWrite pins how many statements each SQLite write
// runs (the writer's BEGIN, SAVEPOINT, RELEASE and COMMIT aside), so that a
// change that adds one is seen; the failure paths stop after the read.
func TestSQLiteStatementsPerWrite(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	n := countWrites(s)
	var id int
	fresh := func() Settlement {
		id++
		return sample(fmt.Sprint("sp-", id))
	}
	registered := func() Key {
		in := fresh()
		if _, _, err := s.Register(ctx, in); err != nil {
			t.Fatal(err)
		}
		return in.Key
	}
	event := func(dedup string) *StatusEvent {
		return &StatusEvent{DedupKey: dedup, SettlementStatus: "S", Body: []byte("<S/>")}
	}
	via := Change{Note: "n", Via: []Waypoint{{StateConfirming, "w1"}, {StateConfirmed, "w2"}}}
	cases := []struct {
		name string
		op   func() error // after its setup, which is not counted
		want int64
	}{
		{"Register, new", func() error { _, _, err := s.Register(ctx, fresh()); return err }, 1},
		{"Register, known", func() error {
			in := fresh()
			s.Register(ctx, in)
			n.Store(0)
			_, _, err := s.Register(ctx, in)
			return err
		}, 2},
		{"RegisterMoving, new, with waypoints", func() error {
			_, _, err := s.RegisterMoving(ctx, fresh(), StateSubmitting, via)
			return err
		}, 1},
		{"Transition", func() error {
			key := registered()
			n.Store(0)
			_, _, err := s.Transition(ctx, key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true}, nil)
			return err
		}, 1}, // from the row cache: no read
		{"Transition, not cached", func() error {
			key := registered()
			s.rows.clear()
			n.Store(0)
			_, _, err := s.Transition(ctx, key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true}, nil)
			return err
		}, 2},
		{"Transition, cached row changed behind the cache", func() error {
			key := registered()
			behind(t, s, key, `UPDATE settlements SET attempts = 3`)
			n.Store(0)
			_, _, err := s.Transition(ctx, key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true}, nil)
			return err
		}, 3}, // the UPDATE that misses, then the read and the UPDATE
		{"Transition with waypoints, from several states", func() error {
			key := registered()
			n.Store(0)
			_, _, err := s.Transition(ctx, key, []State{StateReceived, StatePending}, StateSubmitting, via, nil)
			return err
		}, 1},
		{"Transition with an event", func() error {
			key := registered()
			n.Store(0)
			_, _, err := s.Transition(ctx, key, nil, StateSettled, Change{}, event("final"))
			return err
		}, 2},
		{"Transition with an event, not cached", func() error {
			key := registered()
			s.rows.clear()
			n.Store(0)
			_, _, err := s.Transition(ctx, key, nil, StateSettled, Change{}, event("final"))
			return err
		}, 3},
		{"Transition with an event without a dedup key", func() error {
			key := registered()
			n.Store(0)
			_, _, err := s.Transition(ctx, key, nil, StateSettled, Change{}, event(""))
			return err
		}, 2},
		{"Transition with a known event", func() error {
			key := registered()
			s.Transition(ctx, key, nil, StateSettled, Change{}, event("final"))
			n.Store(0)
			_, _, err := s.Transition(ctx, key, nil, StateSettled, Change{}, event("final"))
			return err
		}, 4},
		{"Transition, state conflict", func() error {
			key := registered()
			n.Store(0)
			if _, _, err := s.Transition(ctx, key, []State{StatePending}, StateSettled, Change{}, event("final")); !errors.Is(err, ErrStateConflict) {
				return fmt.Errorf("want ErrStateConflict, got %v", err)
			}
			return nil
		}, 1},
		{"Transition, not found", func() error {
			n.Store(0)
			if _, _, err := s.Transition(ctx, Key{"acme", "sp-missing"}, nil, StateSettled, Change{}, nil); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("want ErrNotFound, got %v", err)
			}
			return nil
		}, 1},
	}
	for _, c := range cases {
		n.Store(0)
		if err := c.op(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if got := n.Load(); got != c.want {
			t.Errorf("%s: %d statements, want %d", c.name, got, c.want)
		}
	}
}

// The next event's seq is read with the row, in the shared transaction:
// transitions recording events on one settlement in one batch (one that
// fails rolled back between them) number them 1, 2 without a gap.
func TestGroupCommitEventSeqsInOneBatch(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	in := sample("gs")
	if _, _, err := s.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	other := sample("gs-other")
	if _, _, err := s.Register(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Transition(ctx, other.Key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-taken"}); err != nil {
		t.Fatal(err)
	}
	record := func(dedup, msgID string) func() error {
		return func() error {
			_, _, err := s.Transition(ctx, in.Key, nil, StateSettled, Change{Note: dedup}, &StatusEvent{DedupKey: dedup, MessageID: msgID})
			return err
		}
	}
	release := blockWriter(t, s.w)
	batches := s.w.batches.Load()
	wait := queue(t, s.w, record("a", "m-a"), record("b", "m-taken"), record("c", "m-c"), record("a", "m-a2"))
	release()
	errs := wait()
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errors %v, want only the second's", errs)
	}
	if got := s.w.batches.Load() - batches; got != 2 { // the blocker's, then the four
		t.Errorf("%d batches, want 2", got)
	}
	evs, err := s.Statuses(ctx, in.Key)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%d:%s:%s", ev.Seq, ev.DedupKey, ev.MessageID))
	}
	if want := []string{"1:a:m-a", "2:c:m-c"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if h := mustHistory(t, s, in.Key); states(h) != ">received received>settled settled>settled settled>settled" {
		t.Errorf("history %s", states(h))
	}
}

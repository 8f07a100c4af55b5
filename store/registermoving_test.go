package store

import (
	"errors"
)

// RegisterMoving registers a new settlement already moved (one write, the
// history of both steps) and returns a known one unchanged; Change.Via
// records each state passed through.
func testRegisterMovingAndVia(e *env) {
	t, st, ctx := e.T, e.st, e.ctx
	{
		in := sample("rm-1")
		got, created, err := st.RegisterMoving(ctx, in, StateConfirming, Change{IncAttempts: true, Note: "attempt 1", Refs: map[string]string{"a": "1"}})
		if err != nil || !created {
			t.Fatalf("RegisterMoving: created %v, %v", created, err)
		}
		if got.State != StateConfirming || got.Attempts != 1 || got.Refs["a"] != "1" {
			t.Fatalf("registered %+v", got)
		}
		again, created, err := st.RegisterMoving(ctx, in, StateConfirming, Change{IncAttempts: true, Note: "attempt 1"})
		if err != nil || created || again.Attempts != 1 || again.State != StateConfirming {
			t.Fatalf("again: created %v attempts %d state %s, %v", created, again.Attempts, again.State, err)
		}
		next, _, err := st.Transition(ctx, in.Key, []State{StateConfirming}, StateSubmitting, Change{
			Via: []Waypoint{{StateConfirmed, "funds confirmed"}}, Note: "submitting to provider", Refs: map[string]string{"b": "2"}}, nil)
		if err != nil || next.State != StateSubmitting || next.Refs["a"] != "1" || next.Refs["b"] != "2" {
			t.Fatalf("transition via: %+v, %v", next, err)
		}
		if _, _, err := st.Transition(ctx, in.Key, []State{StateConfirming}, StateSubmitting, Change{}, nil); !errors.Is(err, ErrStateConflict) {
			t.Fatalf("stale transition: %v, want ErrStateConflict", err)
		}
		h, err := st.History(ctx, in.Key)
		if err != nil {
			t.Fatal(err)
		}
		want := []Transition{
			{From: "", To: StateReceived, Note: "registered"},
			{From: StateReceived, To: StateConfirming, Note: "attempt 1"},
			{From: StateConfirming, To: StateConfirmed, Note: "funds confirmed"},
			{From: StateConfirmed, To: StateSubmitting, Note: "submitting to provider"},
		}
		if len(h) != len(want) {
			t.Fatalf("history %+v", h)
		}
		for i, w := range want {
			if h[i].From != w.From || h[i].To != w.To || h[i].Note != w.Note {
				t.Fatalf("history line %d: %+v, want %+v (all: %+v)", i, h[i], w, h)
			}
		}
	}
}

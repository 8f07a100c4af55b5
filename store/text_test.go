package store

import (
	"errors"
)

// testProviderTextIsStoredAlike: provider text holding a NUL byte or
// invalid UTF-8 — a decline reason, a parked reason, a reference, a note —
// is stored on both backends, cleaned alike (text.go: U+FFFD for each NUL
// and each run of invalid UTF-8). Before, SQLite stored it and PostgreSQL
// refused the whole transition (TEXT: "invalid byte sequence for encoding
// UTF8: 0x00", SQLSTATE 22021; jsonb refs: "unsupported Unicode escape
// sequence", 22P05), so a verdict with money moved was never recorded and
// its delivery was retried forever (TestReview2BackendsAgreeOnNULInProviderText).
func testProviderTextIsStoredAlike(e *env) {
	const r = "\uFFFD"
	for _, c := range []struct {
		name string
		// moving registers with RegisterMoving(ch) instead of Register,
		// then a Transition.
		moving bool
		ch     Change
		ev     *StatusEvent
		want   func(s Settlement) bool
		note   string // the last history line's
	}{
		{name: "decline reason with NUL, terminal with its event",
			ch: Change{DeclineReason: ptr("declined: \x00"), Note: "refused (R)"},
			ev: &StatusEvent{DedupKey: "final", SettlementStatus: "R", Body: []byte("<x/>\x00")},
			want: func(s Settlement) bool {
				return s.DeclineReason == "declined: "+r
			}, note: "refused (R)"},
		{name: "decline reason with invalid UTF-8",
			ch:   Change{DeclineReason: ptr("bad \xff\xfe bytes")},
			want: func(s Settlement) bool { return s.DeclineReason == "bad "+r+" bytes" }},
		{name: "parked reason with NUL",
			ch:   Change{ParkedReason: ptr("retries exhausted: \x00\x00")},
			want: func(s Settlement) bool { return s.ParkedReason == "retries exhausted: "+r+r }},
		{name: "refs key and value with NUL",
			ch: Change{Refs: map[string]string{"charge": "ch_\x00", "k\x00": "v"}},
			want: func(s Settlement) bool {
				_, raw := s.Refs["k\x00"]
				return s.Refs["charge"] == "ch_"+r && s.Refs["k"+r] == "v" && !raw
			}},
		{name: "note and waypoint note with NUL and invalid UTF-8",
			ch:   Change{Note: "provider status \x00", Via: []Waypoint{{StateConfirmed, "funds \xc3"}}},
			want: func(s Settlement) bool { return true }, note: "provider status " + r},
		{name: "registered moving, refs and parked reason with NUL", moving: true,
			ch: Change{Refs: map[string]string{"ref": "\x00"}, ParkedReason: ptr("\x00")},
			want: func(s Settlement) bool {
				return s.Refs["ref"] == r && s.ParkedReason == r
			}},
	} {
		in := sample("text-" + c.name)
		to := StateSubmitting
		if c.ev != nil {
			to = StateRefused
		}
		var got Settlement
		var err error
		if c.moving {
			got, _, err = e.st.RegisterMoving(e.ctx, in, to, c.ch)
		} else {
			e.register(in)
			var ev *StatusEvent
			got, ev, err = e.st.Transition(e.ctx, in.Key, []State{StateReceived}, to, c.ch, c.ev)
			if err == nil && c.ev != nil && (ev == nil || ev.Seq != 1 || string(ev.Body) != string(c.ev.Body)) {
				e.Errorf("%s: event %+v, want the one recorded with its body as given", c.name, ev)
			}
		}
		if err != nil {
			e.Errorf("%s: %v", c.name, err)
			continue
		}
		if !c.want(got) {
			e.Errorf("%s: returned refs %q, decline %q, parked %q", c.name, got.Refs, got.DeclineReason, got.ParkedReason)
		}
		if stored := e.get(in.Key); !c.want(stored) {
			e.Errorf("%s: stored refs %q, decline %q, parked %q", c.name, stored.Refs, stored.DeclineReason, stored.ParkedReason)
		}
		h := e.history(in.Key)
		if last := h[len(h)-1]; c.note != "" && last.Note != c.note {
			e.Errorf("%s: last history note %q, want %q", c.name, last.Note, c.note)
		}
		for _, tr := range h {
			if !validText(tr.Note) {
				e.Errorf("%s: history note %q stored as given", c.name, tr.Note)
			}
		}
		// The stored refs merge again (PostgreSQL casts them to jsonb).
		next, _, err := e.st.Transition(e.ctx, in.Key, nil, got.State, Change{Refs: map[string]string{"later": "1"}}, nil)
		if err != nil || next.Refs["later"] != "1" || !c.want(next) {
			e.Errorf("%s: next transition: refs %q, decline %q, parked %q, %v", c.name, next.Refs, next.DeclineReason, next.ParkedReason, err)
		}
	}
}

// testIdentifiersThatAreNotText: identifiers are compared, not cleaned
// (text.go): on both backends, one holding a NUL byte or invalid UTF-8 is
// refused on write with ErrInvalidText, and a read by one finds nothing.
// Before, PostgreSQL refused such statements (SQLSTATE 22021) where SQLite
// ran them.
func testIdentifiersThatAreNotText(e *env) {
	for _, c := range []struct {
		name string
		edit func(*Settlement)
	}{
		{"request id with NUL", func(s *Settlement) { s.RequestID += "\x00" }},
		{"provider with invalid UTF-8", func(s *Settlement) { s.Provider += "\xff" }},
		{"order id with NUL", func(s *Settlement) { s.OrderID += "\x00" }},
		{"correlation id with invalid UTF-8", func(s *Settlement) { s.CorrelationID += "\xff" }},
	} {
		in := sample("id-text")
		c.edit(&in)
		if _, _, err := e.st.Register(e.ctx, in); !errors.Is(err, ErrInvalidText) {
			e.Errorf("Register with %s: %v, want ErrInvalidText", c.name, err)
		}
		if _, _, err := e.st.RegisterMoving(e.ctx, in, StateConfirming, Change{}); !errors.Is(err, ErrInvalidText) {
			e.Errorf("RegisterMoving with %s: %v, want ErrInvalidText", c.name, err)
		}
		if _, err := e.st.Get(e.ctx, in.Key); !errors.Is(err, ErrNotFound) {
			e.Errorf("Get with %s: %v, want ErrNotFound", c.name, err)
		}
	}

	key := e.register(sample("id-ok")).Key
	bad := Key{Provider: key.Provider, RequestID: "id-ok\x00"}
	if _, _, err := e.st.Transition(e.ctx, bad, nil, StateSubmitting, Change{}, nil); !errors.Is(err, ErrNotFound) {
		e.Errorf("Transition of a key with NUL: %v, want ErrNotFound", err)
	}
	for _, ev := range []StatusEvent{
		{DedupKey: "final\x00", SettlementStatus: "S"},
		{MessageID: "m\xff", SettlementStatus: "S"},
		{SettlementStatus: "S\x00"},
	} {
		if _, _, err := e.st.Transition(e.ctx, key, nil, StateSettled, Change{}, &ev); !errors.Is(err, ErrInvalidText) {
			e.Errorf("Transition with event %+v: %v, want ErrInvalidText", ev, err)
		}
	}
	if got := e.get(key); got.State != StateReceived {
		e.Errorf("refused transitions moved the settlement to %s", got.State)
	}
	if evs, err := e.st.Statuses(e.ctx, bad); err != nil || len(evs) != 0 {
		e.Errorf("Statuses of a key with NUL: %v, %v; want none", evs, err)
	}
	if h, err := e.st.History(e.ctx, bad); err != nil || len(h) != 0 {
		e.Errorf("History of a key with NUL: %v, %v; want none", h, err)
	}
	for _, c := range []Correlation{
		{Provider: key.Provider, CorrelationID: "ctx-id-ok\x00"},
		{Provider: key.Provider, StoreID: "store-1", OrderID: "order-id-ok\xff"},
	} {
		if ss, err := e.st.Find(e.ctx, c); err != nil || len(ss) != 0 {
			e.Errorf("Find(%+v): %d settlements, %v; want none", c, len(ss), err)
		}
	}
}

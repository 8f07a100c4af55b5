package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testStaleCountsOnlyTheProvidersAskedFor: Stale filters by provider
// before its limit. Before, it had no provider filter: the sweeper read
// the oldest stale rows of every provider up to its batch and skipped
// those of providers it does not run, so a batch's worth of a disabled
// provider's rows, older than an enabled provider's stuck settlement,
// hid that settlement from every round
// (handlers.TestSweepFindsAnEnabledProvidersRowsPastADisabledOnes).
func testStaleCountsOnlyTheProvidersAskedFor(e *env) {
	var ids []string
	for i := range 3 { // the oldest: a provider nobody runs
		s := sample(fmt.Sprintf("off-%d", i))
		s.Provider = "disabled"
		e.register(s)
	}
	e.register(sample("stuck"))
	parked := e.register(sample("parked")).Key
	e.transition(parked, nil, StateReceived, Change{ParkedReason: ptr("for a person")}, nil)
	before := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		providers []string
		states    []State
		limit     int
		want      []string
	}{
		{"any provider, limited", nil, []State{StateReceived}, 2, []string{"off-0", "off-1"}},
		{"the enabled one, limited below the disabled one's rows", []string{"acme"}, []State{StateReceived}, 2, []string{"stuck"}},
		{"both, all", []string{"acme", "disabled"}, []State{StateReceived, StateSubmitting}, 0, []string{"off-0", "off-1", "off-2", "stuck"}},
		{"a provider without rows", []string{"other"}, []State{StateReceived}, 0, nil},
		{"another state", []string{"acme"}, []State{StateConfirming}, 0, nil},
	} {
		got, err := e.st.Stale(e.ctx, c.providers, c.states, before, StaleCursor{}, c.limit)
		ids = ids[:0]
		for _, s := range got {
			ids = append(ids, s.RequestID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			e.Errorf("%s: Stale(%v, %v, limit %d) = %v, %v; want %v", c.name, c.providers, c.states, c.limit, ids, err, c.want)
		}
	}
}

// TestSQLiteStaleReadsTheStateIndex: SQLite's Stale of some providers
// reads settlements_state_updated, not the primary key by provider (every
// settlement of the providers, finished ones included).
func TestSQLiteStaleReadsTheStateIndex(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		providers int
		cursor    bool
	}{{0, false}, {1, false}, {2, false}, {0, true}, {2, true}} {
		providers := c.providers
		query, args := staleQuery(providers, 5, c.cursor, 500)
		for i := range args {
			args[i] = "x"
		}
		plan, err := queryAll(ctx, st.(*sqlStore), func(r rowScanner) (string, error) {
			var id, parent, notused int
			var detail string
			return detail, r.Scan(&id, &parent, &notused, &detail)
		}, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "settlements_state_updated") || strings.Contains(text, "autoindex") {
			t.Errorf("%d providers, cursor %v: plan\n%s\nwant settlements_state_updated only", providers, c.cursor, text)
		}
	}
}

// testUnpublishedPagesAfterACursor: Unpublished continues after a cursor
// (an event's place in the outbox's order: created_at, provider,
// request_id, seq), so that the relay reads at most its batch each round
// and still visits every unpublished event in turn. Before, it always
// read from the oldest: events the broker refuses for good stay the
// oldest, and the relay read its batch plus every one of them each round
// (thousands when a store's status queue was unbound for a day).
// Events recorded at the same instant are ordered by provider, request id
// and seq, and a page boundary among them neither skips nor repeats one.
func testUnpublishedPagesAfterACursor(e *env) {
	var want []string
	record := func(id string, n int) {
		key := e.register(sample(id)).Key
		for i := range n {
			mid := fmt.Sprintf("%s-%d", id, i+1)
			e.transition(key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: mid, MessageID: mid, SettlementStatus: "S"})
			want = append(want, mid)
		}
	}
	record("a", 2)
	// Recorded at one instant: ordered by request id, then seq.
	e.clock.mu.Lock()
	e.clock.step = 0
	e.clock.mu.Unlock()
	record("c", 2)
	record("b", 1)
	e.clock.mu.Lock()
	e.clock.step = time.Millisecond
	e.clock.now = e.clock.now.Add(time.Millisecond) // past that instant
	e.clock.mu.Unlock()
	want = append(want[:2], "b-1", "c-1", "c-2")
	record("d", 1)
	published := e.register(sample("p")).Key
	e.transition(published, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "p-1", MessageID: "p-1"})
	if err := e.st.MarkPublished(e.ctx, "p-1", time.Now()); err != nil {
		e.Fatal(err)
	}
	record("e", 1)
	before := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

	ids := func(evs []StatusEvent) []string {
		out := []string{}
		for _, ev := range evs {
			out = append(out, ev.MessageID)
		}
		return out
	}
	all, err := e.st.Unpublished(e.ctx, before, OutboxCursor{}, 0)
	if err != nil || !slices.Equal(ids(all), want) {
		e.Fatalf("Unpublished from the oldest = %v, %v; want %v", ids(all), err, want)
	}
	for _, limit := range []int{1, 2, 3, 5} {
		var got []string
		var after OutboxCursor
		for page := 0; ; page++ {
			if page > len(want) {
				e.Fatalf("limit %d: no end after %d pages (%v)", limit, page, got)
			}
			evs, err := e.st.Unpublished(e.ctx, before, after, limit)
			if err != nil {
				e.Fatalf("limit %d, page %d: %v", limit, page, err)
			}
			if len(evs) > limit {
				e.Fatalf("limit %d, page %d: %d events", limit, page, len(evs))
			}
			if len(evs) == 0 {
				break
			}
			got = append(got, ids(evs)...)
			after = evs[len(evs)-1].Cursor()
		}
		if !slices.Equal(got, want) {
			e.Errorf("limit %d: pages %v, want every unpublished event once, in order: %v", limit, got, want)
		}
	}
	// Before: events recorded since are not read yet.
	if evs, err := e.st.Unpublished(e.ctx, all[2].CreatedAt, OutboxCursor{}, 0); err != nil || !slices.Equal(ids(evs), want[:2]) {
		e.Errorf("Unpublished before %s = %v, %v; want %v", all[2].CreatedAt, ids(evs), err, want[:2])
	}
}

// testStalePagesAfterACursor: Stale continues after a cursor (a
// settlement's place in its order: updated_at, provider, request_id), so
// that the sweeper reads at most its batch of overdue settlements and
// still reaches every one in turn. Before, it always read from the oldest:
// an acknowledged settlement whose parked copy the broker or publisher
// refuses is never recorded as parked and stays the oldest, and a batch of
// them hid every overdue settlement behind them from every round.
// Settlements changed at the same instant are ordered by provider, then
// request id, and a page boundary among them neither skips nor repeats one.
func testStalePagesAfterACursor(e *env) {
	var want []string
	reg := func(provider, id string) {
		s := sample(id)
		s.Provider = provider
		e.register(s)
	}
	reg("acme", "a")
	e.clock.mu.Lock()
	e.clock.step = 0
	e.clock.mu.Unlock()
	reg("zeta", "b") // the same instant: acme's first, then by request id
	reg("acme", "d")
	reg("acme", "c")
	e.clock.mu.Lock()
	e.clock.step = time.Millisecond
	e.clock.now = e.clock.now.Add(time.Millisecond) // past that instant
	e.clock.mu.Unlock()
	reg("acme", "e")
	parked := e.register(sample("parked")).Key
	e.transition(parked, nil, StateReceived, Change{ParkedReason: ptr("for a person")}, nil)
	reg("zeta", "f")
	want = []string{"acme/a", "acme/c", "acme/d", "zeta/b", "acme/e", "zeta/f"}
	before := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := func(ss []Settlement) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, s.Provider+"/"+s.RequestID)
		}
		return out
	}
	providers := []string{"acme", "zeta"}
	all, err := e.st.Stale(e.ctx, providers, []State{StateReceived}, before, StaleCursor{}, 0)
	if err != nil || !slices.Equal(ids(all), want) {
		e.Fatalf("Stale from the oldest = %v, %v; want %v", ids(all), err, want)
	}
	for _, limit := range []int{1, 2, 4} {
		var got []string
		var after StaleCursor
		for page := 0; ; page++ {
			if page > len(want) {
				e.Fatalf("limit %d: no end after %d pages (%v)", limit, page, got)
			}
			ss, err := e.st.Stale(e.ctx, providers, []State{StateReceived}, before, after, limit)
			if err != nil {
				e.Fatalf("limit %d, page %d: %v", limit, page, err)
			}
			if len(ss) > limit {
				e.Fatalf("limit %d, page %d: %d settlements", limit, page, len(ss))
			}
			if len(ss) == 0 {
				break
			}
			got = append(got, ids(ss)...)
			after = ss[len(ss)-1].Cursor()
		}
		if !slices.Equal(got, want) {
			e.Errorf("limit %d: pages %v, want every stale settlement once, in order: %v", limit, got, want)
		}
	}
	// One provider, after a cursor among the same instant's.
	if ss, err := e.st.Stale(e.ctx, []string{"acme"}, []State{StateReceived}, before, all[1].Cursor(), 0); err != nil ||
		!slices.Equal(ids(ss), []string{"acme/d", "acme/e"}) {
		e.Errorf("Stale(acme) after %v = %v, %v; want acme/d, acme/e", all[1].Cursor(), ids(ss), err)
	}
}

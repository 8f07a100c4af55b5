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
		got, err := e.st.Stale(e.ctx, c.providers, c.states, before, c.limit)
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
	for _, providers := range []int{0, 1, 2} {
		query, args := staleQuery(providers, 5, 500)
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
			t.Errorf("%d providers: plan\n%s\nwant settlements_state_updated only", providers, text)
		}
	}
}

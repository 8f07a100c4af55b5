package handlers

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Init creates every counter of the enabled providers at zero; recording
// adds to them; a nil *Metrics does nothing.
func TestMetricsInit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Init([]string{"acme", "beta"})
	counts := map[string]int{
		"settlement_outcomes_total":       2 * len(Outcomes),
		"settlement_retries_total":        2,
		"settlement_handler_panics_total": 2 * 2,
		"settlement_swept_total":          2 * (4*len(inFlight) + 3 + 4), // resumed, parked, unreadable, unresumed; acknowledged parked, unreadable; events unreadable; settled and refused relayed, unrelayed
	}
	for name, want := range counts {
		if n := testutil.CollectAndCount(reg, name); n != want {
			t.Errorf("%s: %d series after Init, want %d", name, n, want)
		}
	}
	for _, o := range Outcomes {
		if v := testutil.ToFloat64(m.outcomes.WithLabelValues("beta", o)); v != 0 {
			t.Errorf("outcome %s starts at %v", o, v)
		}
	}
	m.outcome("acme", "settled")
	m.retry("acme")
	m.call("acme", "settle", time.Millisecond, nil)
	if v := testutil.ToFloat64(m.outcomes.WithLabelValues("acme", "settled")); v != 1 {
		t.Errorf("settled = %v after one", v)
	}
	var none *Metrics
	none.Init([]string{"acme"})
	none.outcome("acme", "settled")
}

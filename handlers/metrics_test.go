package handlers

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/providers"
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

// callOpsProvider offers every optional call.
type callOpsProvider struct{ *scripted }

func (callOpsProvider) Prepare(context.Context, *providers.Request) (map[string]string, error) {
	return nil, nil
}
func (callOpsProvider) Poll(context.Context, *providers.Request) (providers.Outcome, error) {
	return providers.Outcome{}, nil
}

// InitCalls creates a provider's settlement_provider_call_seconds series
// at zero, for the calls the handler makes of it and no other; CallOps
// names every op Settlement.timed is called with (read from the source,
// so that a new call is not left without its series).
func TestMetricsInitCalls(t *testing.T) {
	cases := []struct {
		name string
		p    providers.Provider
		ops  []string
	}{
		{"reconciler", newScripted("acme", providers.Facts{}), []string{"confirm_funds", "settle", "reconcile"}},
		{"every call", callOpsProvider{newScripted("beta", providers.Facts{})}, []string{"confirm_funds", "settle", "prepare", "poll", "reconcile"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			m.InitCalls(tc.p)
			m.InitCalls(nil)
			if got := CallOps(tc.p); !slices.Equal(got, tc.ops) {
				t.Errorf("CallOps = %v, want %v", got, tc.ops)
			}
			if n := testutil.CollectAndCount(reg, "settlement_provider_call_seconds"); n != 2*len(tc.ops) {
				t.Errorf("%d series, want %d (ok and error of %v)", n, 2*len(tc.ops), tc.ops)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				for _, mt := range mf.GetMetric() {
					if n := mt.GetHistogram().GetSampleCount(); n != 0 {
						t.Errorf("%v: count %d at start", mt.GetLabel(), n)
					}
				}
			}
		})
	}

	// Every op the handler times is one CallOps can name.
	known := CallOps(callOpsProvider{newScripted("x", providers.Facts{})})
	f, err := parser.ParseFile(token.NewFileSet(), "settlement.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var timed []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "timed" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			t.Errorf("Settlement.timed called with an op that is not a literal: its series cannot be created up front")
			return true
		}
		op, _ := strconv.Unquote(lit.Value)
		timed = append(timed, op)
		if !slices.Contains(known, op) {
			t.Errorf("Settlement.timed(%q): not one of CallOps %v, so its series is not created at start", op, known)
		}
		return true
	})
	if len(timed) == 0 {
		t.Fatal("no call of Settlement.timed found in settlement.go")
	}
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingQuerier counts the statements run through it.
type countingQuerier struct {
	q querier
	n *atomic.Int64
}

func (c countingQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.q.QueryRowContext(ctx, query, args...)
}

func (c countingQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.q.QueryContext(ctx, query, args...)
}

func (c countingQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.q.ExecContext(ctx, query, args...)
}

// countWrites makes s's writer count the statements its writes run (not
// the writer's own BEGIN, SAVEPOINT, RELEASE and COMMIT). Call it before
// the first write.
func countWrites(s *sqlStore) *atomic.Int64 {
	var n atomic.Int64
	s.w.wrap = func(q querier) querier { return countingQuerier{q: q, n: &n} }
	return &n
}

// benchRequest is a settlement request of a realistic size.
var benchRequest = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
` + strings.Repeat("  <Line>0123456789abcdefghijklmnopqrstuvwxyz</Line>\n", 20) + `</PaymentSettlementRequest>`)

var benchStatus = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementStatus xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
` + strings.Repeat("  <Line>0123456789abcdefghijklmnopqrstuvwxyz</Line>\n", 8) + `</PaymentSettlementStatus>`)

// radialDebit takes one new settlement through the store the way a Radial
// debit goes (handlers.Settlement, then handlers.ProviderStatus): registered
// in confirming, moved to submitting through confirmed with the call's
// references, acknowledged, then settled by the provider's asynchronous
// status, with its status event.
func radialDebit(ctx context.Context, st Store, id string) error {
	in := Settlement{
		Key:            Key{Provider: "radial", RequestID: id},
		Fingerprint:    "sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730",
		StoreID:        "store-1",
		OrderID:        "order-" + id,
		TenderType:     "VC",
		SettlementType: "Debit",
		Amount:         "125.40",
		Currency:       "USD",
		ClientContext:  "ctx-" + id,
		CorrelationID:  "sw-" + id,
		Request:        benchRequest,
		ContentType:    "application/xml",
		Headers:        map[string]string{"x-tenant": "t1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	s, created, err := st.RegisterMoving(ctx, in, StateConfirming, Change{IncAttempts: true, Note: "attempt 1"})
	if err != nil || !created {
		return fmt.Errorf("register: created %v, %v", created, err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if s, _, err = st.Transition(ctx, s.Key, []State{s.State}, StateSubmitting, Change{
		Refs: map[string]string{"paymentRecord": "PR-" + id, "callSentAt": now, "callNotSent": "false"},
		Note: "submitting to provider",
		Via:  []Waypoint{{State: StateConfirmed, Note: "funds confirmed"}},
	}, nil); err != nil {
		return fmt.Errorf("submitting: %w", err)
	}
	if s, _, err = st.Transition(ctx, s.Key, []State{s.State}, StateAcknowledged, Change{
		Refs: map[string]string{"settlementId": "S-" + id, "provider_ref": "R-" + id},
		Note: "acknowledged by provider",
	}, nil); err != nil {
		return fmt.Errorf("acknowledged: %w", err)
	}
	_, ev, err := st.Transition(ctx, s.Key, []State{StateAcknowledged, StatePending}, StateSettled,
		Change{Note: "provider status S"},
		&StatusEvent{DedupKey: "ps:1:S:amqp:m-" + id, MessageID: "ev-" + id, SettlementStatus: "S", Body: benchStatus})
	if err != nil || ev == nil || ev.Seq != 1 {
		return fmt.Errorf("settled: event %+v, %w", ev, err)
	}
	return nil
}

// BenchmarkSQLiteSettlementLifecycle measures what the SQLite store spends
// on one settlement (radialDebit: four writes): "serial" one settlement at
// a time on a file in b.TempDir() (every write waits for its own COMMIT's
// fsync), "parallel" 16 at a time on a file (group commit shares the
// fsyncs, as in a loaded worker), and "memory" one at a time on
// ":memory:", without the disk: there ns/op is the store's CPU time alone,
// the steadiest number on a shared machine, where fsync times vary a lot.
// Besides ns/op it reports stmts/op, the statements the writes ran (the
// writer adds BEGIN and COMMIT per batch and SAVEPOINT and RELEASE per
// write), the process's CPU time per settlement (every goroutine), where
// the platform gives it: user-ns/op, the store's own work (SQLite is Go
// code here), and sys-ns/op, mostly the fsyncs, and batches/op, the shared
// transactions (one fsync each on a file).
func BenchmarkSQLiteSettlementLifecycle(b *testing.B) {
	for _, mode := range []struct {
		name        string
		memory      bool
		parallelism int // goroutines per GOMAXPROCS; 0: serial
	}{{"serial", false, 0}, {"parallel", false, 8}, {"memory", true, 0}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			dsn := "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
			if mode.memory {
				dsn = "sqlite::memory:"
			}
			st, err := Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			s := st.(*sqlStore)
			stmts := countWrites(s)
			batches := s.w.batches.Load()
			runLifecycles(b, st, mode.parallelism)
			perOp := func(n int64) float64 { return float64(n) / float64(b.N) }
			b.ReportMetric(perOp(stmts.Load()), "stmts/op")
			b.ReportMetric(perOp(s.w.batches.Load()-batches), "batches/op")
		})
	}
}

// runLifecycles runs b.N radialDebits on st, one at a time (parallelism 0)
// or parallelism goroutines per GOMAXPROCS at once, and reports this
// process's CPU time per settlement (user-ns/op, sys-ns/op) where the
// platform gives it. Allocations are reported; the timer covers the runs.
func runLifecycles(b *testing.B, st Store, parallelism int) {
	ctx := context.Background()
	var ids atomic.Int64
	b.ReportAllocs()
	user0, sys0, cpuOK := cpuTime()
	b.ResetTimer()
	if parallelism == 0 {
		for i := 0; i < b.N; i++ {
			if err := radialDebit(ctx, st, fmt.Sprintf("b-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := radialDebit(ctx, st, fmt.Sprintf("b-%d", ids.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	if user1, sys1, _ := cpuTime(); cpuOK {
		b.ReportMetric(float64((user1-user0).Nanoseconds())/float64(b.N), "user-ns/op")
		b.ReportMetric(float64((sys1-sys0).Nanoseconds())/float64(b.N), "sys-ns/op")
	}
}

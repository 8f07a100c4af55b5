package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkSQLiteFindByCorrelation measures the Radial status handler's
// look-up (handlers.ProviderStatus.awaited): a Find by provider, store and
// correlation id on a file store holding 3,000 settlements (radialDebit),
// each after a commit of the writer (untimed), as under load, where every
// commit empties the readers' page caches (WAL): what one status costs the
// read pool (docs/benchmark.md, session 27).
func BenchmarkSQLiteFindByCorrelation(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const n = 3000
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += 16 {
				if err := radialDebit(ctx, st, fmt.Sprintf("f-%d", i)); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := st.MarkPublished(ctx, fmt.Sprintf("ev-f-%d", (i*7)%n), time.Time{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		id := fmt.Sprintf("f-%d", (i*13)%n)
		got, err := st.Find(ctx, Correlation{Provider: "radial", StoreID: "store-1", CorrelationID: "sw-" + id})
		if err != nil || len(got) != 1 || got[0].RequestID != id {
			b.Fatalf("find %s: %d, %v", id, len(got), err)
		}
	}
}

package ops_test

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

// peakHeap runs f and returns how far the heap grew above its level
// before f, at the highest it was seen while f ran.
func peakHeap(f func()) float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if peak.Load() < base {
		return 0
	}
	return float64(peak.Load()-base) / (1 << 20)
}

// TestStuckReadsAPageAtATime: stuck read every stale settlement at once,
// whole rows with their request bodies (opened, when sealed), to print
// ids and times: during an outage with many settlements waiting, the
// command's memory grew with all their bodies together (about 100 MB for
// 2000 settlements with 48 KB requests here). It now reads them a page
// at a time and keeps only what it prints.
func TestStuckReadsAPageAtATime(t *testing.T) {
	f := newFixture(t, "")
	f.setClock(now.Add(-3 * time.Hour))
	big := bytes.Repeat([]byte("x"), 48<<10)
	const n = 2000
	for i := range n {
		id := "r" + string(rune('a'+i%26)) + time.Duration(i).String()
		if _, _, err := f.st.Register(f.ctx, store.Settlement{
			Key: store.Key{Provider: "radial", RequestID: id}, Fingerprint: "fp-" + id, StoreID: "S1", OrderID: "O-" + id,
			SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: big, ContentType: "application/xml",
		}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	grew := peakHeap(func() { err = ops.Stuck(f.ctx, f.env(), nil, nil, time.Hour, true) })
	if err != nil {
		t.Fatal(err)
	}
	if c := bytes.Count([]byte(f.out.String()), []byte(`"request_id"`)); c != n {
		t.Errorf("stuck listed %d settlements, want %d", c, n)
	}
	t.Logf("heap grew by %.0f MB", grew)
	if grew > 40 {
		t.Errorf("stuck's heap grew by %.0f MB for %d stale settlements of 48 KB", grew, n)
	}
}

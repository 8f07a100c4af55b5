package ops_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// stuckWriter is an output nobody reads any more (tail piped into a
// pager that stopped reading, a terminal on hold): its first write
// blocks until release is closed.
type stuckWriter struct{ release chan struct{} }

func (w stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// TestTailWithAStuckOutputStaysBounded: tail consumed its temporary
// queue with automatic acks and no prefetch, so the broker pushed every
// status event to it at once, and the AMQP client buffers what it has not
// handed over yet without bound: with its output stuck (piped into a pager
// that stopped reading), tail's memory grew with every status event the
// worker published, as long as it ran (48 MB for 3000 events of 16 KB
// here). It now takes at most a prefetch of unacked events, and its
// temporary queue keeps at most the newest tailQueueMax (older ones are
// dropped from the tail's queue only).
func TestTailWithAStuckOutputStaysBounded(t *testing.T) {
	f := newFixture(t, "")
	ctx, cancel := context.WithCancel(f.ctx)
	release := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan error, 1)
	e := f.env()
	e.Out = stuckWriter{release}
	go func() { done <- ops.Tail(ctx, e, ops.TailOptions{StoreID: "S1", Ready: func() { close(ready) }}) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	defer func() {
		cancel()
		close(release)
		<-done
	}()
	before := heapMB()
	body := bytes.Repeat([]byte("x"), 16<<10)
	const n = 3000
	f.publishMany(broker.StatusExchange, broker.StatusRoutingKey("S1"), n, func(i int) amqp.Publishing {
		return amqp.Publishing{ContentType: "application/xml", MessageId: "ev", Body: body,
			Headers: amqp.Table{"request_id": "r", "store_id": "S1", "provider": "radial", "settlement_status": "S", "n": int64(i)}}
	})
	time.Sleep(2 * time.Second) // the broker pushes what it may
	if grew := heapMB() - before; grew > 16 {
		t.Errorf("tail with a stuck output grew by %.0f MB for %d status events of 16 KB", grew, n)
	}
}

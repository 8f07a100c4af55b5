package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPingSaysTheSQLiteWriterIsStalled: a write transaction that does not
// end (a stalled disk: its fsync does not return) holds every write of the
// worker, yet Ping asked the read pool, which answers from the page cache:
// /readyz said "store: ok" and a delivery failing on it was not taken for
// a store outage (handlers.StoreOutage), while nothing could commit. Ping
// now fails while the writer's transaction has run longer than
// writerStallAfter, and answers again once it ended.
func TestPingSaysTheSQLiteWriterIsStalled(t *testing.T) {
	old := writerStallAfter
	writerStallAfter = 300 * time.Millisecond
	t.Cleanup(func() { writerStallAfter = old })
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping of an idle store: %v", err)
	}
	release := blockWriter(t, s.w)
	time.Sleep(2 * writerStallAfter)
	err := s.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Ping while the writer's transaction has run %s = %v, want an error saying it is stalled", 2*writerStallAfter, err)
	}
	t.Logf("Ping: %v", err)
	release()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ping still fails after the writer's transaction ended: %v", s.Ping(ctx))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

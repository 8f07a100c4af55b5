package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestChaosShortWithBrokerRestarts runs the short chaos suite (both stores) end to end: it
// starts its own RabbitMQ node, so it needs rabbitmq-server installed and
// STORE_TEST_POSTGRES_DSN for the PostgreSQL scenario (else SQLite only).
// CHAOS_SHORT_N sets the settlements per provider (default 200). It is
// named *BrokerRestart* so that make test runs it in its exclusive pass,
// alone (-p 1): it is CPU-heavy, and its timings must not starve the other
// packages' end-to-end tests.
func TestChaosShortWithBrokerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite: minutes, a private broker")
	}
	testenv.RequireExclusiveBroker(t)
	if raceEnabled {
		t.Skip("chaos suite under -race: make test runs it without the race detector (make chaos-short)")
	}
	n := 200
	if v, err := strconv.Atoi(os.Getenv("CHAOS_SHORT_N")); err == nil && v > 0 {
		n = v
	}
	args := []string{"-n", strconv.Itoa(n), "-timeout", "8m"}
	if os.Getenv("STORE_TEST_POSTGRES_DSN") == "" {
		t.Log("STORE_TEST_POSTGRES_DSN unset: SQLite scenario only")
		args = append(args, "-stores", "sqlite")
	}
	if rc := run(args); rc != 0 {
		t.Fatalf("settlement-chaos %v: exit status %d (tables above)", args, rc)
	}
}

func TestParseMinor(t *testing.T) {
	for in, want := range map[string]int64{"10.00": 1000, "7.5": 750, "3": 300, "0.01": 1} {
		if got := parseMinor(in); got != want {
			t.Errorf("parseMinor(%q) = %d, want %d", in, got, want)
		}
	}
}

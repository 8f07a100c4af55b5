// Package testenv is the one place where tests get real infrastructure:
// a RabbitMQ broker (one fresh, empty vhost per test), a PostgreSQL server
// (one fresh database per test) and race-enabled builds of the project's
// main packages.
//
// # Where the infrastructure comes from
//
// RabbitMQ, in this order:
//
//  1. AMQP_URL (and RABBITMQ_MANAGEMENT_URL, default
//     http://<user>:<pass>@<amqp host>:15672). `make test`, `make broker-up`
//     and scripts/rabbitmq.sh export these for the local broker, together
//     with RABBITMQ_NODE and RABBITMQ_CTL, which RestartBroker uses.
//  2. When a Docker engine is reachable: one rabbitmq:3.13-management
//     container per test binary, started by testcontainers-go on first use.
//  3. Otherwise the test fails when CI is set (CI must never silently skip
//     broker tests) and is skipped when it is not.
//
// PostgreSQL: STORE_TEST_POSTGRES_DSN (scripts/postgres.sh, `make
// postgres-up`), else a postgres:16 container when Docker is reachable, else
// the same fail-in-CI / skip-elsewhere rule.
//
// # Cleanup
//
// Vhosts and databases are deleted in t.Cleanup. Containers and built
// binaries live for the whole test binary; Shutdown removes them. A test
// package that may run on the container fallback should have
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without it, testcontainers' reaper container (Ryuk) still removes the
// containers once the test binary exits, and only the temporary directory
// holding the binaries built by Binary is left behind in os.TempDir().
//
// # Tests that disrupt the broker
//
// RestartBroker drops every connection to the broker, other test packages'
// included, so tests that call it (or otherwise disturb the broker) start
// with RequireExclusiveBroker and are named *RestartBroker* or
// *BrokerRestart*: they are skipped unless TESTENV_EXCLUSIVE_BROKER=1, and
// `make test` runs them in a second pass, `go test -p 1 -run
// 'RestartBroker|BrokerRestart' ./...`, on a private broker of their own.
//
// A test that needs the broker to misbehave only for its own connections
// (stop answering, block publishing, go away) dials it through
// NewBrokerProxy instead, and needs none of this.
//
// Set TESTENV_NO_DOCKER=1 to never try Docker.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
)

// unavailable stops the test because some infrastructure is missing:
// t.Fatal when the CI environment variable is non-empty, t.Skip otherwise.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// randomHex returns 2*n random lowercase hex characters.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// sanitize keeps [a-z0-9] and turns everything else into '_', at most max
// characters long.
func sanitize(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() >= max {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

var (
	shutdownMu    sync.Mutex
	shutdownFuncs []func()
)

// onShutdown registers f to run in Shutdown (last registered runs first).
func onShutdown(f func()) {
	shutdownMu.Lock()
	defer shutdownMu.Unlock()
	shutdownFuncs = append(shutdownFuncs, f)
}

// Shutdown terminates the containers started by this package and removes the
// binaries built by Binary. Call it after m.Run, or use Main.
func Shutdown() {
	shutdownMu.Lock()
	fs := shutdownFuncs
	shutdownFuncs = nil
	shutdownMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// Main runs the tests, then Shutdown, then exits with the tests' code:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// vanishingReplicaDSN is the environment variable that makes
// TestPostgresVanishingReplicaHelper run: the DSN (through a testenv.PGProxy of mode ServerStays) of
// the replica it plays; vanishingReplicaMode says what it holds when it
// vanishes ("locks": vanishingOrders; "row": a transaction holding the
// row of settlement vanishingRow).
const (
	vanishingReplicaDSN  = "STORE_TEST_VANISHING_REPLICA_DSN"
	vanishingReplicaMode = "STORE_TEST_VANISHING_REPLICA_MODE"
)

// vanishingOrders are the orders the vanishing replica holds, the sweep
// lock's among them (handlers.Sweeper takes "sweeper", "", "round").
var vanishingOrders = [][3]string{
	{"miva", "S1", "vanish-1"}, {"radial", "S1", "vanish-2"}, {"paysafe", "S1", "vanish-3"},
	{"sweeper", "", "round"},
}

// vanishingRow is the settlement whose row the vanishing replica holds in
// mode "row".
const vanishingRow = "vanish-row"

// TestPostgresVanishingReplicaHelper is the replica that vanishes in the
// tests below, run as a process of its own: it takes what its mode says,
// says so on stdout and waits to be killed.
func TestPostgresVanishingReplicaHelper(t *testing.T) {
	dsn := os.Getenv(vanishingReplicaDSN)
	if dsn == "" {
		t.Skip("run by the vanishing replica tests")
	}
	ctx := context.Background()
	st, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	switch mode := os.Getenv(vanishingReplicaMode); mode {
	case "locks":
		for _, o := range vanishingOrders {
			if _, err := st.LockOrder(ctx, o[0], o[1], o[2]); err != nil {
				t.Fatal(err)
			}
		}
	case "row":
		// Within the transaction of pgTransitionEvent's rare path
		// (transitionTx: the transition, then the event), between its
		// two statements: the row is locked (FOR UPDATE) until it ends.
		s := st.(*sqlStore)
		key := sample(vanishingRow).Key
		if _, _, err := s.RegisterMoving(ctx, sample(vanishingRow), StateSubmitting, Change{}); err != nil {
			t.Fatal(err)
		}
		_ = s.writeTx(ctx, func(ctx context.Context, q querier) error {
			if _, err := s.pgTransition(ctx, q, key, []State{StateSubmitting}, StateAcknowledged, Change{Note: "vanishing"}, s.now()); err != nil {
				t.Fatal(err)
			}
			fmt.Println("locked")
			time.Sleep(10 * time.Minute) // until killed
			return nil
		})
	default:
		t.Fatalf("%s=%q", vanishingReplicaMode, mode)
	}
	fmt.Println("locked")
	time.Sleep(10 * time.Minute) // until killed
}

// vanishingReplica runs TestPostgresVanishingReplicaHelper in mode on the
// database of dsn, its connections through a testenv.PGProxy of mode ServerStays, and returns once
// it holds what it holds; kill makes it vanish and returns when.
func vanishingReplica(t *testing.T, dsn, mode string) (kill func() time.Time) {
	t.Helper()
	proxy := testenv.PostgresProxy(t, dsn, testenv.ServerStays)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresVanishingReplicaHelper$", "-test.count=1", "-test.timeout=15m")
	cmd.Env = append(os.Environ(), vanishingReplicaDSN+"="+proxy.DSN(), vanishingReplicaMode+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	locked := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "locked" {
				locked <- true
			}
		}
		close(locked)
	}()
	select {
	case ok := <-locked:
		if !ok {
			t.Fatal("the replica process ended before it took its locks")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the replica process did not take its locks")
	}
	return func() time.Time {
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		return time.Now()
	}
}

// vanishedBound is how long what a vanished replica held may stay held:
// a bound of the worker's own, not the server's TCP keepalive.
const vanishedBound = 45 * time.Second

// A replica whose host vanishes (powered off, a node lost, its network
// gone for good) sends nothing more, not even the end of its connections:
// the PostgreSQL backends of its order-lock sessions stay, idle, holding
// every order lock it held — the sweep lock too, when it was sweeping —
// until the server's TCP keepalive gives up on the peer (two hours and
// more by default). Nobody ends them: the replica that could (reap) is
// gone. Meanwhile every other replica defers those orders' deliveries as
// "busy", and skips every sweep round: the outbox is not relayed,
// overdue acknowledgements are not parked, stuck settlements are not
// resumed. The replica is played by a process of its own, SIGKILLed,
// whose connections pass through a testenv.PGProxy of mode ServerStays: its client side dies with
// the process, the server side stays open, as a vanished host leaves it.
func TestPostgresOrderLocksOfAVanishedReplicaAreFreed(t *testing.T) {
	if os.Getenv(vanishingReplicaDSN) != "" {
		t.Skip("in the helper process")
	}
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	kill := vanishingReplica(t, dsn, "locks")

	other, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	for _, o := range vanishingOrders {
		lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		unlock, err := other.LockOrder(lctx, o[0], o[1], o[2])
		cancel()
		if err == nil {
			unlock()
			t.Fatalf("order %v was free while the replica held it", o)
		}
	}

	killed := kill() // the host vanishes
	for _, o := range vanishingOrders {
		lctx, cancel := context.WithDeadline(ctx, killed.Add(vanishedBound))
		unlock, err := other.LockOrder(lctx, o[0], o[1], o[2])
		cancel()
		if err != nil {
			t.Fatalf("order %v still locked %s after the replica holding it vanished: %v", o, time.Since(killed).Round(time.Second), err)
		}
		unlock()
	}
	t.Logf("the vanished replica's order locks were free %s after it was killed", time.Since(killed).Round(time.Second))
}

// A live replica's lock sessions outlast the server's idle_session_timeout
// (pgLockIdleTimeout) with no lock, check or unlock to serve: their
// heartbeat keeps them, and a holder idle all that time (a long provider
// call) still holds its order.
func TestPostgresIdleLockSessionKeepsItsLocks(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	stA, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stA.Close() })
	stB, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stB.Close() })
	unlock, err := stA.LockOrder(ctx, "miva", "S1", "idle-1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	time.Sleep(pgLockIdleTimeout + 5*time.Second)
	if err := stA.CheckLock(ctx, "miva", "S1", "idle-1"); err != nil {
		t.Fatalf("CheckLock after %s idle: %v", pgLockIdleTimeout+5*time.Second, err)
	}
	if c := stA.(*sqlStore).LockStats(); c.Ended != 0 {
		t.Errorf("LockStats = %+v: a lock session ended while idle", c)
	}
	lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if unlockB, err := stB.LockOrder(lctx, "miva", "S1", "idle-1"); err == nil {
		unlockB()
		t.Fatal("the other replica took the order the idle holder still holds")
	}
}

// A replica that vanishes inside a write transaction (pgTransitionEvent's
// rare path runs the transition and the event as two statements in one)
// leaves its backend idle in that transaction, holding the settlement's
// row lock (FOR UPDATE) until the server's TCP keepalive gives up on the
// peer (two hours and more by default): every other replica's
// transition of that settlement — its verdict, a provider status, a
// parking — waits on the row all that time, and fails at its own
// deadline, delivery after delivery.
func TestPostgresRowOfAVanishedReplicaIsFreed(t *testing.T) {
	if os.Getenv(vanishingReplicaDSN) != "" {
		t.Skip("in the helper process")
	}
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	kill := vanishingReplica(t, dsn, "row")
	other, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	key := sample(vanishingRow).Key

	killed := kill() // the host vanishes
	tctx, cancel := context.WithDeadline(ctx, killed.Add(vanishedBound))
	defer cancel()
	st, _, err := other.Transition(tctx, key, []State{StateSubmitting}, StateSettled, Change{Note: "verdict"},
		&StatusEvent{SettlementStatus: "S", Body: []byte("S"), DedupKey: "final"})
	if err != nil {
		t.Fatalf("the verdict of %s, whose row the vanished replica held, still not recorded %s after it vanished: %v",
			key.RequestID, time.Since(killed).Round(time.Second), err)
	}
	if st.State != StateSettled {
		t.Fatalf("state %s, want settled (the vanished replica's transaction never committed)", st.State)
	}
	t.Logf("the vanished replica's row was free %s after it was killed", time.Since(killed).Round(time.Second))
}

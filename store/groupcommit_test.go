package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openSQLiteFile opens a store on a fresh SQLite file.
func openSQLiteFile(t *testing.T) (*sqlStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore), path
}

// blockWriter makes the writer run a job that waits until release is
// called, so that the writes submitted meanwhile queue up and form the next
// batch together.
func blockWriter(t *testing.T, w *sqliteWriter) (release func()) {
	t.Helper()
	started, rel := make(chan struct{}), make(chan struct{})
	go w.tx(context.Background(), func(context.Context, querier) error {
		close(started)
		<-rel
		return nil
	})
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return release
}

// waitQueued waits until n writes wait in the writer's queue.
func waitQueued(t *testing.T, w *sqliteWriter, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(w.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, want %d", len(w.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queue submits the writes one after the other, each queued before the
// next is submitted (so their order in the batch is the order given);
// wait returns their errors once all returned.
func queue(t *testing.T, w *sqliteWriter, writes ...func() error) (wait func() []error) {
	t.Helper()
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	base := len(w.queue)
	for i, write := range writes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write()
		}()
		waitQueued(t, w, base+i+1)
	}
	t.Cleanup(wg.Wait)
	return func() []error {
		wg.Wait()
		return errs
	}
}

func TestGroupCommitBatchesConcurrentCallers(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	release := blockWriter(t, s.w)
	batches, jobs := s.w.batches.Load(), s.w.jobs.Load()

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := sample(fmt.Sprintf("c%02d", i))
			if _, _, err := s.Register(ctx, key); err != nil {
				errs[i] = err
				return
			}
			_, _, errs[i] = s.Transition(ctx, key.Key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true}, nil)
		}()
	}
	waitQueued(t, s.w, n) // every Register waits behind the blocker
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	for i := range n {
		got, err := s.Get(ctx, Key{"acme", fmt.Sprintf("c%02d", i)})
		if err != nil || got.State != StateConfirming || got.Attempts != 1 {
			t.Errorf("c%02d = %s/%d, %v; want confirming/1", i, got.State, got.Attempts, err)
		}
	}
	// The blocker, the 50 Registers in one batch, then the Transitions in
	// one or more.
	gotBatches, gotJobs := s.w.batches.Load()-batches, s.w.jobs.Load()-jobs
	if gotJobs != 2*n+1 {
		t.Errorf("%d jobs committed, want %d", gotJobs, 2*n+1)
	}
	if gotBatches > n+2 || gotBatches < 3 {
		t.Errorf("%d batches for %d jobs: the Registers queued together were not committed together", gotBatches, gotJobs)
	}
}

// One caller's failure (an error after writing, a state conflict, a
// panic) rolls back only that caller's work; the callers before and after
// it in the same transaction commit, in order.
func TestGroupCommitFailingCallerRollsBackAlone(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	release := blockWriter(t, s.w)
	batches := s.w.batches.Load()
	boom := errors.New("boom")
	a, b := sample("a"), sample("b")
	wait := queue(t, s.w,
		func() error { _, _, err := s.Register(ctx, a); return err },
		// Writes b, then fails: b must not exist afterwards. (A row
		// inserted by hand, not through register: the key filter does
		// not know it, which holds because it is rolled back.)
		func() error {
			return s.w.tx(ctx, func(ctx context.Context, q querier) error {
				if _, err := q.ExecContext(ctx, `INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
					VALUES ('acme', 'b', 'received', 'x', 'x')`); err != nil {
					return err
				}
				return boom
			})
		},
		// Sees a's insert (same transaction), moves it.
		func() error {
			_, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateConfirming, Change{Note: "after a"}, nil)
			return err
		},
		// Expects a state a is no longer in.
		func() error {
			_, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateWithheld, Change{}, nil)
			return err
		},
		// Writes, then panics.
		func() error {
			return s.w.tx(ctx, func(ctx context.Context, q querier) error {
				if _, err := q.ExecContext(ctx, `UPDATE settlements SET state = 'refused' WHERE request_id = 'a'`); err != nil {
					return err
				}
				panic("bug")
			})
		},
		func() error { _, _, err := s.Register(ctx, b); return err },
		func() error {
			_, _, err := s.Transition(ctx, a.Key, []State{StateConfirming}, StateConfirmed, Change{Note: "last"}, nil)
			return err
		},
	)
	release()
	errs := wait()
	want := []string{"", "boom", "", "not in the expected state", "panic in a write: bug", "", ""}
	for i, w := range want {
		switch err := errs[i]; {
		case w == "" && err != nil:
			t.Errorf("write %d: %v, want success", i, err)
		case w != "" && (err == nil || !strings.Contains(err.Error(), w)):
			t.Errorf("write %d: %v, want an error containing %q", i, err, w)
		}
	}
	if !errors.Is(errs[1], boom) || !errors.Is(errs[3], ErrStateConflict) {
		t.Errorf("errors not returned as is: %v, %v", errs[1], errs[3])
	}
	if got := s.w.batches.Load() - batches; got != 2 {
		t.Errorf("%d batches, want 2 (the blocker, then the seven writes together)", got)
	}
	got, err := s.Get(ctx, a.Key)
	if err != nil || got.State != StateConfirmed {
		t.Fatalf("a = %s, %v; want confirmed", got.State, err)
	}
	if h := states(mustHistory(t, s, a.Key)); h != ">received received>confirming confirming>confirmed" {
		t.Errorf("history of a = %q", h)
	}
	gb, err := s.Get(ctx, b.Key)
	if err != nil || gb.Fingerprint != b.Fingerprint {
		t.Errorf("b = %+v, %v: want the second Register's row, not the failed write's", gb, err)
	}
}

func mustHistory(t *testing.T, s Store, key Key) []Transition {
	t.Helper()
	h, err := s.History(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Writes in one batch apply in the order they were submitted: a chain of
// transitions queued together commits as a chain, and the same chain
// queued out of order fails where the state is not there yet.
func TestGroupCommitOrder(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	move := func(key Key, from, to State) func() error {
		return func() error {
			_, _, err := s.Transition(ctx, key, []State{from}, to, Change{Note: string(to)}, nil)
			return err
		}
	}
	k1, k2 := sample("o1"), sample("o2")
	release := blockWriter(t, s.w)
	wait := queue(t, s.w,
		func() error { _, _, err := s.Register(ctx, k1); return err },
		move(k1.Key, StateReceived, StateConfirming),
		move(k1.Key, StateConfirming, StateConfirmed),
		move(k1.Key, StateConfirmed, StateSubmitting),
		func() error { _, _, err := s.Register(ctx, k2); return err },
		move(k2.Key, StateConfirming, StateConfirmed), // too early
		move(k2.Key, StateReceived, StateConfirming),
	)
	batches := s.w.batches.Load()
	release()
	errs := wait()
	if got := s.w.batches.Load() - batches; got != 2 {
		t.Errorf("%d batches, want 2 (the blocker, then the seven writes together)", got)
	}
	for i, err := range errs {
		if i == 5 {
			if !errors.Is(err, ErrStateConflict) {
				t.Errorf("write %d (out of order) = %v, want ErrStateConflict", i, err)
			}
		} else if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if h := states(mustHistory(t, s, k1.Key)); h != ">received received>confirming confirming>confirmed confirmed>submitting" {
		t.Errorf("history of o1 = %q", h)
	}
	if h := states(mustHistory(t, s, k2.Key)); h != ">received received>confirming" {
		t.Errorf("history of o2 = %q", h)
	}
}

// A caller whose context ends while its write waits in the queue gets the
// context's error, and its write never runs.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	s, _ := openSQLiteFile(t)
	release := blockWriter(t, s.w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Register(ctx, sample("gone"))
		done <- err
	}()
	waitQueued(t, s.w, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Register with a cancelled context = %v, want context.Canceled", err)
	}
	release()
	if _, _, err := s.Register(context.Background(), sample("next")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), Key{"acme", "gone"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("the abandoned write ran: Get = %v", err)
	}
}

// Close while writes pour in: every write that returned nil is in the
// database afterwards, every write that failed is not.
func TestGroupCommitCloseLosesNothingAcknowledged(t *testing.T) {
	s, path := openSQLiteFile(t)
	ctx := context.Background()
	var mu sync.Mutex
	acked, failed := map[string]bool{}, map[string]error{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%02d-%05d", g, i)
				_, _, err := s.Register(ctx, sample(id))
				mu.Lock()
				if err != nil {
					failed[id] = err
				} else {
					acked[id] = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	for id, err := range failed {
		if !errors.Is(err, errClosed) {
			t.Errorf("%s failed with %v, want the closed store's error", id, err)
		}
	}
	again, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for id := range acked {
		if _, err := again.Get(ctx, Key{"acme", id}); err != nil {
			t.Errorf("acknowledged %s lost: %v", id, err)
		}
	}
	for id := range failed {
		if _, err := again.Get(ctx, Key{"acme", id}); !errors.Is(err, ErrNotFound) {
			t.Errorf("failed write %s was applied: %v", id, err)
		}
	}
	t.Logf("%d acknowledged, %d refused after Close", len(acked), len(failed))
}

// crashHelperEnv names the database the crash helper process writes to.
const crashHelperEnv = "STORE_GROUPCOMMIT_CRASH_DB"

// TestGroupCommitCrashHelper is the process TestGroupCommitCrashLosesNothingAcknowledged
// kills: it writes as fast as it can and prints "ack ID" after each write
// the store acknowledged.
func TestGroupCommitCrashHelper(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("run by TestGroupCommitCrashLosesNothingAcknowledged")
	}
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				s := sample(fmt.Sprintf("g%02d-%06d", g, i))
				if _, _, err := st.Register(ctx, s); err != nil {
					continue
				}
				if _, _, err := st.Transition(ctx, s.Key, []State{StateReceived}, StateSubmitting, Change{Note: "before the call"}, nil); err != nil {
					continue
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", s.RequestID)
				mu.Unlock()
			}
		}()
	}
	select {} // until killed
}

// SIGKILL while batches are being committed: every write acknowledged
// before the kill is in the database (the kernel's page cache survives a
// process crash, so this proves acknowledgement after COMMIT, not fsync;
// synchronous=FULL, checked by TestSQLiteSettings, covers power loss).
func TestGroupCommitCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "s.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupCommitCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) == 500 {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	_ = cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("the helper acknowledged %d writes before it ended, want 500", len(acked))
	}
	// The kernel dropped the dead process's flock: the file opens again.
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range acked {
		got, err := st.Get(ctx, Key{"acme", id})
		if err != nil || got.State != StateSubmitting {
			t.Errorf("acknowledged %s: %s, %v; want submitting", id, got.State, err)
		}
	}
	t.Logf("%d writes acknowledged before SIGKILL, all found", len(acked))
}

// A write committed alone (a batch of one, without a savepoint) that fails
// is rolled back whole and gets its own error; the writes after it apply.
func TestGroupCommitAloneFailingWriteRollsBack(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	a, b := sample("a"), sample("b")
	if _, _, err := s.Register(ctx, a); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	// Inserted by hand, not through register (the key filter does not
	// know it), and rolled back: it never exists.
	err := s.w.tx(ctx, func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
			VALUES ('acme', 'b', 'received', 'x', 'x')`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing write: %v, want boom as is", err)
	}
	if _, _, err := s.Transition(ctx, a.Key, []State{StateConfirming}, StateSubmitting, Change{}, nil); !errors.Is(err, ErrStateConflict) {
		t.Errorf("conflicting transition: %v, want ErrStateConflict", err)
	}
	err = s.w.tx(ctx, func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, `UPDATE settlements SET state = 'refused' WHERE request_id = 'a'`); err != nil {
			return err
		}
		panic("bug")
	})
	if err == nil || !strings.Contains(err.Error(), "panic in a write: bug") {
		t.Errorf("panicking write: %v", err)
	}
	if _, _, err := s.Register(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateConfirming, Change{Note: "after"}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, a.Key); err != nil || got.State != StateConfirming {
		t.Errorf("a = %s, %v; want confirming (the panicking write rolled back)", got.State, err)
	}
	if gb, err := s.Get(ctx, b.Key); err != nil || gb.Fingerprint != b.Fingerprint {
		t.Errorf("b = %+v, %v: want the Register's row, not the failed write's", gb, err)
	}
	if h := states(mustHistory(t, s, a.Key)); h != ">received received>confirming" {
		t.Errorf("history of a = %q", h)
	}
}

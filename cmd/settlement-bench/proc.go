package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
)

// workerProc is the worker subprocess; its stderr (JSON logs) is scanned.
type workerProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once

	mu    sync.Mutex
	lines []string // last lines of stderr
	count int
}

func startWorker(bin string, vars []string) (*workerProc, error) {
	cmd := exec.Command(bin)
	// Only the process basics from our environment: the worker's own
	// settings (PREFETCH, RETRY_DELAYS, ...) stay at their defaults.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, vars...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	p := &workerProc{cmd: cmd, exited: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.count++
			p.lines = append(p.lines, line)
			if len(p.lines) > 30 {
				p.lines = p.lines[1:]
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		<-scanned
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady waits until the worker consumes: the request queue of each of
// its providers has `concurrency` consumers and Radial's status queue at
// least one. That signal works at every log level, and comes after the
// worker's "settlement worker running" line, which is logged at info (so
// not printed at LOG_LEVEL=warn) and before the consumers are attached.
func (p *workerProc) waitReady(ctx context.Context, workerURL, radialURL string, providers []string, concurrency int) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	ready := func() bool {
		for _, pv := range providers {
			if consumers(workerURL, broker.RequestQueue(pv)) < concurrency {
				return false
			}
		}
		return consumers(radialURL, radialStatusQueue) >= 1
	}
	for {
		if ready() {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return fmt.Errorf("the worker exited before it was ready (%s); log tail:\n%s", p.cmd.ProcessState, p.tail())
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the worker was not consuming after a minute; log tail:\n%s", p.tail())
			}
			return ctx.Err()
		}
	}
}

// usage reads the worker's peak RSS (VmHWM) and CPU time from /proc; call it
// just before stopping it.
func (p *workerProc) usage() (peak int64, cpu time.Duration) {
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				peak = kb << 10
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			// Fields after the command name: state is field 3, utime 14, stime 15.
			f := strings.Fields(s[i+1:])
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
			}
		}
	}
	return peak, cpu
}

// stop asks the worker to shut down gracefully and kills it if it does not.
func (p *workerProc) stop() {
	p.stopped.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

func (p *workerProc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// logged is how many lines the worker wrote (warnings and errors at
// LOG_LEVEL=warn).
func (p *workerProc) logged() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// buildWorker builds ./cmd/settlement-worker of this module into dir.
func buildWorker(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the settlement-worker module (go env GOMOD is empty): run from the repository")
	}
	bin := filepath.Join(dir, "settlement-worker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/settlement-worker")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/settlement-worker: %w\n%s", err, out)
	}
	return bin, nil
}

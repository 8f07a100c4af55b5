package main

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
	"sync/atomic"
	"syscall"
	"time"
)

// worker is one settlement-worker subprocess; its stderr (JSON logs) is kept
// in a short tail for failure messages and appended to its log file (kept
// with the store when a run fails).
type worker struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	// stopping is set before the harness kills or stops the worker: an
	// exit without it is the worker's own.
	stopping atomic.Bool
	mu       sync.Mutex
	lines    []string
}

func startWorker(name, bin, logPath string, vars []string) (*worker, error) {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, vars...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start worker %s: %w", name, err)
	}
	w := &worker{name: name, cmd: cmd, exited: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = fmt.Fprintln(logFile, sc.Text())
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			if len(w.lines) > 20 {
				w.lines = w.lines[1:]
			}
			w.mu.Unlock()
		}
	}()
	go func() {
		<-scanned
		_ = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

// kill sends SIGKILL: no shutdown, in-flight settlements stay where they are.
func (w *worker) kill() {
	w.stopping.Store(true)
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

// stop asks for a graceful shutdown and kills after 20 s.
func (w *worker) stop() {
	select {
	case <-w.exited:
		return
	default:
	}
	w.stopping.Store(true)
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(20 * time.Second):
		w.kill()
	}
}

func (w *worker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

func (w *worker) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// buildWorker builds ./cmd/settlement-worker of this module into dir.
func buildWorker(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the settlement-worker module: run from the repository")
	}
	bin := filepath.Join(dir, "settlement-worker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/settlement-worker")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/settlement-worker: %w\n%s", err, out)
	}
	return bin, nil
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// moduleRoot is the directory of the go.mod `go env GOMOD` names.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the settlement-worker module: run it from the repository (make demo)")
	}
	return filepath.Dir(mod), nil
}

// build compiles ./cmd/<name> into <root>/bin/<name> for each name, in one
// go build (so that packages compile in parallel), and returns the paths.
func build(ctx context.Context, root string, names ...string) ([]string, error) {
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	var paths []string
	for _, n := range names {
		args = append(args, "./cmd/"+n)
		paths = append(paths, filepath.Join(bin, n))
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return paths, nil
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// proc is a subprocess whose output goes to a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	exited  chan struct{}
	waitErr error
	stopped bool
}

// baseEnv are the variables passed on from our environment; everything else
// a subprocess gets is set explicitly, so that a stray variable in the
// caller's shell (CONCURRENCY, QUEUE_TYPE, ...) does not change the demo.
var baseEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"}

// startProc starts bin with env in its own process group (so that Ctrl-C
// reaches us and we stop it in order) and with a parent-death signal (so
// that it does not outlive us if we are killed).
func startProc(ctx context.Context, name, bin, logPath string, env []string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	for _, k := range baseEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, logFile: f, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, ctx.Err()
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// waitHTTP polls url until it answers 200, the process exits or the
// timeout passes.
func (p *proc) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); last lines of %s:\n%s", p.name, p.waitErr, p.logPath, p.tail(15))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s (GET %s: %s); last lines of %s:\n%s", p.name, timeout, url, last, p.logPath, p.tail(15))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the exit, killing the process after
// grace. It returns the exit status.
func (p *proc) stop(grace time.Duration) (int, time.Duration, error) {
	start := time.Now()
	defer p.logFile.Close()
	select {
	case <-p.exited:
		if p.stopped {
			return p.cmd.ProcessState.ExitCode(), 0, nil
		}
		return p.cmd.ProcessState.ExitCode(), 0, fmt.Errorf("%s had already exited (%v) before it was stopped; log %s", p.name, p.waitErr, p.logPath)
	default:
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), time.Since(start), nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return -1, time.Since(start), fmt.Errorf("%s did not stop within %s of SIGTERM: killed", p.name, grace)
	}
}

// tail returns the last n lines of the log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// logLevels counts the warn and error lines of a zerolog JSON log and
// returns the error lines, shortened, for printing (the worker masks
// account numbers and never logs credentials).
func (p *proc) logLevels() (warns map[string]int, errs int, errLines []string) {
	warns = map[string]int{}
	f, err := os.Open(p.logPath)
	if err != nil {
		return warns, 0, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Level   string `json:"level"`
			Message string `json:"message"`
			Error   string `json:"error"`
			Request string `json:"request_id"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Level {
		case "warn":
			warns[l.Message]++
		case "error", "fatal", "panic":
			errs++
			if len(errLines) < 5 {
				s := l.Level + ": " + l.Message
				if l.Request != "" {
					s += " [" + l.Request + "]"
				}
				if l.Error != "" {
					s += ": " + l.Error
				}
				errLines = append(errLines, shorten(s, 160))
			}
		}
	}
	return warns, errs, errLines
}

// confirmAmounts reads the sandbox's log: the amount of every ConfirmFunds
// request it processed (not deduplicated repeats), by order, sorted.
func confirmAmounts(logPath string) (map[string][]string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Message   string `json:"message"`
			Order     string `json:"order_id"`
			Amount    string `json:"amount"`
			Duplicate bool   `json:"duplicate"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "confirm funds" && !l.Duplicate {
			out[l.Order] = append(out[l.Order], l.Amount)
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out, sc.Err()
}

// logLeaks names the secrets (see secrets) a log contains; it never
// returns the values themselves.
func logLeaks(logPath string) []string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return []string{"(the log could not be read: " + err.Error() + ")"}
	}
	var out []string
	for name, v := range secrets {
		if v != "" && bytes.Contains(b, []byte(v)) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile takes an exclusive, non-blocking lock on path+".lock" and keeps
// it until release is called (or the process dies: the kernel drops flock
// locks with their file, so a SIGKILLed worker never leaves one behind).
// SQLite's own locking serializes transactions, not the worker's per-order
// locks, which live in the process: two worker processes on one file would
// call a provider for the same order at once.
func lockFile(path string) (release func(), err error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cannot create the lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(name); rerr == nil && strings.TrimSpace(string(b)) != "" {
			holder = " (pid " + strings.TrimSpace(string(b)) + ")"
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: the SQLite database %s is already used by another process%s; SQLite serves one worker process — for replicas set STORE_DSN=postgres://…", ErrInUse, path, holder)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", name, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type build struct {
	once sync.Once
	path string
	err  error
}

var (
	builds sync.Map // pkg -> *build

	binDirOnce sync.Once
	binDir     string
	binDirErr  error

	modRootOnce sync.Once
	modRoot     string
	modRootErr  error
)

// ModuleRoot returns the directory of the main module's go.mod
// (`go env GOMOD`).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	modRootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			modRootErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			modRootErr = errors.New("go env GOMOD: not inside a module")
			return
		}
		modRoot = filepath.Dir(gomod)
	})
	if modRootErr != nil {
		t.Fatalf("testenv: %v", modRootErr)
	}
	return modRoot
}

// Binary builds the main package pkg with `go build -race` once per test
// binary and returns the executable's path. pkg is a package path relative
// to the module root ("./cmd/settlement-worker") or an import path. The
// executable is named after the package's last element and lives in a
// temporary directory that Shutdown removes.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() { b.path, b.err = buildBinary(t, pkg) })
	if b.err != nil {
		t.Fatalf("testenv: build %s: %v", pkg, b.err)
	}
	return b.path
}

func buildBinary(t testing.TB, pkg string) (string, error) {
	root := ModuleRoot(t)
	binDirOnce.Do(func() {
		binDir, binDirErr = os.MkdirTemp("", "testenv-bin-")
		if binDirErr == nil {
			dir := binDir
			onShutdown(func() { _ = os.RemoveAll(dir) })
		}
	})
	if binDirErr != nil {
		return "", binDirErr
	}
	name := path.Base(strings.TrimSuffix(pkg, "/"))
	if name == "." || name == "/" || name == "" {
		name = "main"
	}
	dir := filepath.Join(binDir, sanitize(strings.TrimPrefix(pkg, "./"), 200))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-race", "-o", out, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build -race -o %s %s (in %s): %v\n%s", out, pkg, root, err, stderr.String())
	}
	return out, nil
}

package ops_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/ops"
)

// TestPublishRefusesAFileWithoutEnd: publish read --file whole before
// looking at it, so a file with no end (a FIFO whose writer never closes
// it, /dev/zero, a device) kept it reading forever, its memory growing
// with every byte (64 MB here, then waiting for more). It now reads at
// most ops.MaxPublishBytes and refuses a larger file, publishing nothing.
func TestPublishRefusesAFileWithoutEnd(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "request.xml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFO:", err)
	}
	release := make(chan struct{})
	defer close(release)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		<-release // never ends the file
	}()
	f := newFixture(t, "")
	done := make(chan error, 1)
	go func() {
		done <- ops.Publish(f.ctx, f.env(), ops.PublishOptions{File: fifo, Provider: "radial", StoreID: "S1", TenderType: "VC"})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("publish of a file without end: err = %v, want one saying it is larger than the limit", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("publish still reading a file without end after 15s")
	}
}

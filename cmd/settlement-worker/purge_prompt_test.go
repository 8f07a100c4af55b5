package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// lockedBuffer is a bytes.Buffer for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPurgePromptStopsOnCtrlC: parked purge on a terminal lists the
// messages and asks "Type yes to confirm". The command catches SIGINT (to
// stop a long run cleanly), but the question read the terminal regardless,
// so a person who saw the wrong list and pressed Ctrl-C was left at the
// prompt, every further Ctrl-C swallowed too. Ctrl-C at the prompt now ends
// the command at once, exit 1, deleting nothing. The terminal is a pty made
// by script(1).
func TestPurgePromptStopsOnCtrlC(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) is not installed: no pty")
	}
	u, ch := opsBroker(t)
	publishConfirmed(t, ch, "", broker.ParkedQueue("radial"), amqp.Publishing{MessageId: "r1", ContentType: "application/xml", Body: request("r1"),
		Headers: amqp.Table{"store_id": "S1", "parked_reason": "provider down", "parked_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
			"parked_from_queue": broker.RequestQueue("radial")}})
	bin := testenv.Binary(t, "./cmd/settlement-worker")
	cmd := exec.Command("script", "-qec", bin+" parked purge --provider radial", "/dev/null")
	cmd.Env = append(os.Environ(), "AMQP_URL="+u, "STORE_DSN=sqlite:"+t.TempDir()+"/w.db")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for end := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "Type yes to confirm"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no prompt:\n%s", out.String())
		}
	}
	if _, err := in.Write([]byte{3}); err != nil { // Ctrl-C on the terminal
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("interrupted purge exited 0:\n%s", out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Ctrl-C at the prompt did not end parked purge:\n%s", out.String())
	}
	if s := out.String(); strings.Contains(s, "purged 1") {
		t.Errorf("output:\n%s", s)
	}
	if ids := parkedIDs(t, ch); len(ids) != 1 || ids[0] != "r1" {
		t.Errorf("parked after the interrupted purge: %v, want [r1]", ids)
	}
}

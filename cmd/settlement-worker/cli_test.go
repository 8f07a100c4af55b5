package main_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// workerEnv is a configuration with which the worker would start (so that a
// command line that wrongly starts it shows as a timeout, not as a
// configuration error).
func workerEnv(t *testing.T, amqpURL string) []string {
	return append(os.Environ(),
		"AMQP_URL="+amqpURL, "PROVIDERS=radial", "RADIAL_BASE_URL=http://127.0.0.1:1", "RADIAL_API_KEY=k",
		"HTTP_ADDR=off", "STORE_DSN=sqlite:"+filepath.Join(t.TempDir(), "w.db"), "SWEEP_INTERVAL=1h")
}

// sw runs the settlement-worker binary with args for at most 15s and returns
// its stdout, stderr and exit code (-1: still running at the deadline).
func sw(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	bin := testenv.Binary(t, "./cmd/settlement-worker") // built once, before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		code = -1
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func TestUsageErrorsExit2(t *testing.T) {
	env := workerEnv(t, testenv.AMQPURL(t))
	for _, args := range [][]string{
		{"replay-parked", "nosuchprovider"},
		{"replay-parked"},
		{"replay-parked", "radial", "--no-such-flag"},
		{"replay-parked", "radial", "--limit", "many"},
		{"--no-such-flag"},
		{"no-such-command"},
		{"run", "extra"},
		{"parked", "no-such-command"},
		{"parked", "ls", "extra"},
		{"parked", "ls", "--provider", "nosuch"},
		{"parked", "ls", "--older-than", "soon"},
		{"parked", "ls", "--no-such-flag"},
		{"parked", "replay", "--limit", "-1"},
		{"parked", "purge", "--request-id", "r1"}, // stdin is not a terminal: --yes is required
		// No filter: every parked message of every provider, unseen.
		{"parked", "purge", "--yes"},
		{"parked", "purge", "--yes", "--limit", "5"},
		{"show"},
		{"show", "a", "b"},
		{"show", "a", "--provider", "nosuch"},
		{"stuck", "--state", "settled"},
		{"stuck", "--older-than", "1x"},
		{"stuck", "--timeout", "0s"},
		{"parked", "ls", "--timeout", "-1s"},
		{"parked", "ls", "--older-than", "-1d"},
		{"stats", "extra"},
		{"publish", "--provider", "radial", "--store", "S1"},
		{"publish", "--file", "f.xml", "--provider", "radial", "--store", "S1", "--header", "novalue"},
		// --header store_id overrode --store: the worker routed the status by
		// it while --wait listened on --store's key, and waited in vain.
		{"publish", "--file", "f.xml", "--provider", "radial", "--store", "S1", "--header", "store_id=S2"},
		{"publish", "--file", "f.xml", "--provider", "radial", "--store", "S1", "--header", "tender_type=MC"},
		{"tail", "--provider", "nosuch"},
		// retention writes: a negative --limit emptied every finished
		// settlement's bodies (no cap) instead of being refused.
		{"retention", "--limit", "-1"},
		{"retention", "--older-than", "0s"},
		{"retention", "--older-than", "-24h"},
	} {
		_, errOut, code := sw(t, env, args...)
		if code != 2 || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%v: exit code %d, want 2 with the usage; stderr:\n%s", args, code, errOut)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	env := workerEnv(t, "amqp://127.0.0.1:1/")
	out, _, code := sw(t, env, "--help")
	for _, want := range []string{"replay-parked", "version", "AMQP_URL", "RADIAL_API_KEY"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--help: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	out, _, code = sw(t, env, "replay-parked", "--help")
	if code != 0 || !strings.Contains(out, "--dry-run") || !strings.Contains(out, "--limit") {
		t.Errorf("replay-parked --help: exit %d:\n%s", code, out)
	}
	// Every command has an example.
	for _, args := range [][]string{{"run"}, {"version"}, {"replay-parked"}, {"parked"}, {"parked", "ls"}, {"parked", "replay"},
		{"parked", "purge"}, {"show"}, {"stuck"}, {"stats"}, {"publish"}, {"tail"}} {
		out, errOut, code := sw(t, env, append(args, "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "  settlement-worker "+strings.Join(args, " ")) {
			t.Errorf("%v --help: exit %d, want an example:\n%s%s", args, code, out, errOut)
		}
	}
	out, _, code = sw(t, env, "version")
	if code != 0 || !strings.HasPrefix(out, "settlement-worker ") {
		t.Errorf("version: exit %d: %q", code, out)
	}
}

// replay-parked needs only AMQP_URL; --dry-run lists and moves nothing;
// --limit bounds the moves.
func TestReplayParked(t *testing.T) {
	u := testenv.AMQPURL(t)
	parked, requests := broker.ParkedQueue("radial"), broker.RequestQueue("radial")
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{parked, requests} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"r1", "r2"} {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", parked, true, false, amqp.Publishing{
			MessageId: id, Body: []byte(id),
			Headers: amqp.Table{"parked_reason": "provider down", "parked_from_queue": requests},
		})
		if err != nil || !dc.Wait() {
			t.Fatalf("park %s: %v", id, err)
		}
	}
	depth := func(q string) int {
		t.Helper()
		i, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return i.Messages
	}
	waitDepth := func(q string, want int) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); depth(q) != want; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: %d messages, want %d", q, depth(q), want)
			}
		}
	}
	env := append(os.Environ(), "AMQP_URL="+u) // no provider settings

	out, errOut, code := sw(t, env, "replay-parked", "radial", "--dry-run")
	if code != 0 || !strings.Contains(out, "r1") || !strings.Contains(out, "r2") || !strings.Contains(out, "would replay 2") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	waitDepth(parked, 2)
	if depth(requests) != 0 {
		t.Fatal("the dry run moved messages")
	}

	out, errOut, code = sw(t, env, "replay-parked", "radial", "--limit", "1")
	if code != 0 || !strings.Contains(out, "replayed 1 of 2 parked message(s) from "+parked) {
		t.Fatalf("replay --limit 1: exit %d\n%s%s", code, out, errOut)
	}
	waitDepth(requests, 1)
	waitDepth(parked, 1)
}

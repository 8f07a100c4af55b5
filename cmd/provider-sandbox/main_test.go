package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHelpPrintsTheEnvironmentTable(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--help"}, env(nil), &out, &errOut)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help = %v", err)
	}
	for _, e := range envVars {
		if !strings.Contains(out.String(), e.name) || !strings.Contains(out.String(), e.def) {
			t.Errorf("--help lacks %s (default %s):\n%s", e.name, e.def, out.String())
		}
	}
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:8081" || c.radialAPIKey != "sandbox-key" || c.radialStatusDelay != 200*time.Millisecond ||
		c.radialAMQPURL != "amqp://guest:guest@127.0.0.1:5672/radial" || c.radialStatusQueue != "q.Payments.Settlements.Status.guest" {
		t.Fatalf("defaults = %+v", c)
	}
	if _, err := loadConfig(env(map[string]string{"SANDBOX_RADIAL_STATUS_DELAY": "soon"})); err == nil {
		t.Fatal("bad delay accepted")
	}
	if got := redactURL("amqp://guest:secret@host:5672/radial"); got != "amqp://guest:xxxxx@host:5672/radial" {
		t.Fatalf("redactURL = %s", got)
	}
}

// TestRunServesAndStops runs the command with an unreachable broker (the
// statuses wait in the outbox), checks /healthz and the Radial admin API,
// and stops it through its context.
func TestRunServesAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, env(map[string]string{
			"SANDBOX_ADDR":            addr,
			"SANDBOX_RADIAL_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/radial",
		}), io.Discard, io.Discard)
	}()
	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: HTTP %d", resp.StatusCode)
	}
	ac, err := radial.NewAdminClient("http://"+addr+"/radial", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Authorize(ctx, radial.Authorization{StoreID: "S", OrderID: "O", Amount: "1.00", Currency: "USD"}); err != nil {
		t.Fatalf("admin: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
}

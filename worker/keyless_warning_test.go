package worker_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/worker"
)

// TestKeylessStartWarnsOfTheHeadersKeptAsSent: without
// STORE_ENCRYPTION_KEY the worker warned at start that request and status
// bodies are stored in clear, but said nothing of the request headers
// that steer money (store_id, tender_type, original_authorization_amount,
// a provider's own), which it records as sent, a card number in one
// included (with a key such a value is sealed). The warning names them.
func TestKeylessStartWarnsOfTheHeadersKeptAsSent(t *testing.T) {
	cfg, clients := load(t, testenv.AMQPURL(t))
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = worker.Run(ctx, cfg, worker.Deps{Providers: clients}, zerolog.New(&logs))
	var warning string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "STORE_ENCRYPTION_KEY is not set") {
			warning = line
		}
	}
	if warning == "" {
		t.Fatalf("no warning that STORE_ENCRYPTION_KEY is not set:\n%s", logs.String())
	}
	for _, want := range []string{"bodies", "headers", "store_id", "tender_type", "original_authorization_amount", "card numbers"} {
		if !strings.Contains(warning, want) {
			t.Errorf("the keyless warning does not mention %s: %s", want, warning)
		}
	}
}

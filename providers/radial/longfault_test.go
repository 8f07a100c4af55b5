package radial_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestLongFaultIsCut: a Fault's Description went whole into the reason:
// a reply of up to 1 MiB became a log line at every attempt (which log
// pipelines split or drop, losing why the settlement failed) and the
// parked reason stored with the settlement. The description quoted is now
// cut, after the masking, as Paysafe's messages are.
func TestLongFaultIsCut(t *testing.T) {
	url := faultServer(t, 500, "SERVER_ERROR", strings.Repeat("x", 900<<10)+" "+pan)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := newClient(t, url, apiKey).Settle(ctx, request("lf-1", "O-LF", "Debit", "10.00", "10.00"))
	checkErr(t, err, true, "SERVER_ERROR", "fault reply (HTTP 500): SERVER_ERROR: xxx")
	if n := len(providers.ReasonOf(err)); n > 1000 {
		t.Errorf("reason of %d bytes", n)
	}
}

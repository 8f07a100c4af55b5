package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// countingPublisher counts the publishes it is asked for and the bytes
// they carry, and refuses them all: what a webhook would have put on the
// broker, without putting it there.
type countingPublisher struct {
	publishes, bytes atomic.Int64
}

func (p *countingPublisher) Publish(_ context.Context, _, _ string, msg *message.Message) error {
	p.publishes.Add(1)
	p.bytes.Add(int64(len(msg.Payload)))
	return errors.New("counting publisher: refused")
}

// manyAccountsWebhook is an authenticated order_settle_payment webhook for
// channel 21 with accounts payment accounts (each 1.00 to capture) and one
// shipment of packages shipped packages.
func manyAccountsWebhook(accounts, packages int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version":1,"action":"order_settle_payment","integration_auth_token":%q,`+
		`"data":{"channel":{"id":21},"order":{"id":4897,"payment_series_id":2572,"payment_status":{"by_account":[`, testRetailOPSKey)
	for i := range accounts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"success":1,"captures_are_external":1,"available":1}`, i+1)
	}
	b.WriteString(`]},"shipments":[{"id":1,"packages":[`)
	for i := range packages {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"date_shipped":"2016-04-08T21:13:11Z","carrier_name":"WillCall"}`, i+1)
	}
	b.WriteString(`]}]}}}`)
	return []byte(b.String())
}

// TestRetailOPSManyAccountsAreRefusedAtOnce: every settlement request of a
// webhook carries the ShipmentData of every package, so the work and the
// bytes published grew with accounts × packages: a 220 KB webhook of
// 2,000 accounts and 2,000 packages kept its handler busy for over 20 s
// (building, validating and encoding 2,000 requests of 200 KB) and then
// asked the broker to take 400 MB, a 1 MiB one hundreds of GB; the
// handler went on after the client's answer was due. An order with more
// payment accounts than RetailOPS.MaxAccounts is now answered at once
// with a TOO_MANY_ACCOUNTS event and nothing is published; up to the
// bound every account is settled as before.
func TestRetailOPSManyAccountsAreRefusedAtOnce(t *testing.T) {
	tests := []struct {
		name               string
		maxAccounts        int
		accounts, packages int
		wantCode           string // "" : every account is published
		wantEvents         int
	}{
		{"2,000 accounts × 2,000 packages, default bound", 0, 2000, 2000, ErrTooManyAccounts, 1},
		{"one above the bound", 3, 4, 2, ErrTooManyAccounts, 1},
		{"at the bound", 3, 3, 2, "", 0},
		// Each request too large once encoded (6,000 packages: 1.2 MB),
		// refused without being published.
		{"at the default bound, 6,000 packages", 0, DefaultMaxAccounts, 6000, ErrRequestTooLarge, DefaultMaxAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RetailOPS.MaxAccounts = tt.maxAccounts
			pub := &countingPublisher{}
			e := newEnv(t, envOptions{cfg: &cfg, publisher: func(Publisher) Publisher { return pub }})
			body := manyAccountsWebhook(tt.accounts, tt.packages)
			req, err := http.NewRequest(http.MethodPost, e.url+ordersPath, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			start := time.Now()
			bound := 20 * time.Second * raceSlowdown
			resp, err := (&http.Client{Timeout: bound}).Do(req)
			if err != nil {
				t.Fatalf("no answer to a %d-byte webhook within %s (%d publishes, %d bytes asked of the broker so far): %v",
					len(body), bound, pub.publishes.Load(), pub.bytes.Load(), err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			t.Logf("%d-byte webhook answered %d in %v; %d publishes of %d bytes", len(body), resp.StatusCode, time.Since(start),
				pub.publishes.Load(), pub.bytes.Load())
			if tt.wantCode == "" {
				// The counting publisher refuses: 503 after one publish per account.
				if resp.StatusCode != http.StatusServiceUnavailable || pub.publishes.Load() != int64(tt.accounts) {
					t.Fatalf("status %d with %d publishes, want 503 after %d: %s", resp.StatusCode, pub.publishes.Load(), tt.accounts, out)
				}
				return
			}
			var r Response
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("status %d, body %q: %v", resp.StatusCode, out, err)
			}
			if resp.StatusCode != http.StatusOK || len(r.Events) != tt.wantEvents || r.Events[0].ErrorCode != tt.wantCode {
				t.Fatalf("status %d, %d events (first %+v); want 200 and %d %s event(s)", resp.StatusCode, len(r.Events), r.Events[:min(1, len(r.Events))], tt.wantEvents, tt.wantCode)
			}
			if n := pub.publishes.Load(); n != 0 {
				t.Fatalf("%d publishes for a refused webhook", n)
			}
		})
	}
}

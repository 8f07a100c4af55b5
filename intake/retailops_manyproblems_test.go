package intake

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestRetailOPSManyProblemsAreSummarized: an authenticated webhook got one
// error event per problem and one log line per event and per package left
// out, so a 1 MiB order of 10,000 packages with a control character in a
// carrier name was answered with 10,000 events (megabytes, each logged),
// and one of 20,000 packages without date_shipped wrote 20,000 log lines:
// the answer and the logs grew with whatever the body repeated. At most
// maxEvents events are now answered and logged, the last one saying how
// many more problems there were, and the packages left out are logged on
// one line with their count.
func TestRetailOPSManyProblemsAreSummarized(t *testing.T) {
	webhook := func(packages int, pkg string) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, `{"version":1,"action":"order_settle_payment","data":{"channel":{"id":21},"order":{"id":4897,"payment_series_id":2572,`+
			`"channel_payment":{"id":6,"success":1,"captures_are_external":1,"available":35},"shipments":[{"id":1,"packages":[`)
		for i := range packages {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, pkg, i+1)
		}
		b.WriteString(`]}]}}}`)
		return []byte(b.String())
	}
	tests := []struct {
		name       string
		body       []byte
		wantEvents int // 0: accepted
	}{
		{"10,000 carrier names with a control character", webhook(10_000, `{"id":%d,"carrier_name":"\u0001","date_shipped":"2016-04-08T21:13:11Z"}`), maxEvents},
		{"20,000 packages without date_shipped", webhook(20_000, `{"id":%d}`), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			e := newEnv(t, envOptions{topology: true, logs: logs})
			resp, out := e.post(ordersPath, "application/json", tt.body, bearer)
			lines := strings.Count(logs.String(), "\n")
			ev := decodeEvents(t, out)
			t.Logf("%d-byte webhook: %d, %d events in %d bytes, %d log lines", len(tt.body), resp.StatusCode, len(ev.Events), len(out), lines)
			if resp.StatusCode != http.StatusOK || len(ev.Events) != tt.wantEvents {
				t.Fatalf("status %d with %d events, want 200 with %d", resp.StatusCode, len(ev.Events), tt.wantEvents)
			}
			if tt.wantEvents > 0 && !strings.Contains(ev.Events[len(ev.Events)-1].ErrorMessage, "more problem") {
				t.Errorf("the last event does not say more problems were found: %+v", ev.Events[len(ev.Events)-1])
			}
			if lines > 2*maxEvents {
				t.Errorf("%d log lines for one webhook", lines)
			}
			e.requests("radial", 0)
		})
	}
}

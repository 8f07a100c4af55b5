package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// settlement_provider_call_seconds had no series before a provider's first
// call: rate() and histogram_quantile() on it (the dashboard's latency and
// error panels) showed "no data" after every start until a call was made,
// and a first call's increment was lost to rate(). A fresh worker now
// exposes, at 0, every provider's calls the settlement handler makes of
// it (confirm_funds and settle of any provider; prepare, poll, reconcile
// only of one that offers them), ok and error, and no other.
func TestProviderCallSeriesExistBeforeAnyCall(t *testing.T) {
	cfg, clients := load(t, testenv.AMQPURL(t))
	start(t, cfg, clients)
	var want []string
	for _, p := range []string{"acme", "plain"} {
		for _, op := range []string{"confirm_funds", "settle"} {
			for _, res := range []string{"ok", "error"} {
				want = append(want, `settlement_provider_call_seconds_count{op="`+op+`",provider="`+p+`",result="`+res+`"} 0`)
			}
		}
	}
	waitFor(t, "the provider call series", 30*time.Second, func() (bool, string) {
		_, body := get(cfg.HTTPAddr, "/metrics")
		for _, line := range want {
			if !strings.Contains(body, line+"\n") {
				return false, "missing " + line
			}
		}
		for _, op := range []string{"prepare", "poll", "reconcile"} {
			if strings.Contains(body, `settlement_provider_call_seconds_count{op="`+op+`"`) {
				return false, "a series of " + op + ", which these providers do not offer"
			}
		}
		return true, ""
	})
}

package ops_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/ops"
)

// TestPublishRefusesAnInvalidRequest: publish warned that the worker would
// refuse the request, then published it anyway. A person re-sending a
// parked request by hand from an edited copy (an amount typed wrong, an
// element dropped) thereby had its requestId refused for good: the worker
// records status R for it and sends R to the order system, and the order
// system's own request with that id later only repeats the R. An invalid
// request is not published now unless Force says so, and nothing reaches
// the request queue.
func TestPublishRefusesAnInvalidRequest(t *testing.T) {
	f := newFixture(t, "")
	file := filepath.Join(t.TempDir(), "edited.xml")
	invalid := strings.Replace(string(requestXML("r7", "O-r7")), `<Amount currencyCode="USD">100.00</Amount>`, "", 1)
	if err := os.WriteFile(file, []byte(invalid), 0o600); err != nil {
		t.Fatal(err)
	}
	o := ops.PublishOptions{File: file, Provider: "radial", StoreID: "S1", TenderType: "VC"}
	err := ops.Publish(f.ctx, f.env(), o)
	if err == nil || !strings.Contains(err.Error(), "the worker would refuse it") || !strings.Contains(err.Error(), "nothing published") {
		t.Errorf("publish of an invalid request: err = %v, want a refusal", err)
	}
	if strings.Contains(f.out.String(), "published request") || err != nil && strings.Contains(err.Error(), pan) {
		t.Errorf("output:\n%s\nerr: %v", f.out, err)
	}
	f.depth(broker.RequestQueue("radial"), 0)

	// Force: published, with the warning.
	f.reset()
	o.Force = true
	if err := ops.Publish(f.ctx, f.env(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.errOut.String(), "status R") {
		t.Errorf("no warning with --force:\n%s", f.errOut)
	}
	f.depth(broker.RequestQueue("radial"), 1)
}

// TestPublishRefusesARequestWithoutTheTenderItsProviderRequires: Radial's
// requests need the tender_type header (2–4 characters); the worker refuses
// one without it, status R for its requestId for good. publish without
// --tender (or with a malformed one) sent it. It is refused now when the
// provider requires the tender (RequireTenderType), unless Force.
func TestPublishRefusesARequestWithoutTheTenderItsProviderRequires(t *testing.T) {
	f := newFixture(t, "")
	file := "../messages/testdata/request_required_payment_context.xml" // valid
	for _, tender := range []string{"", "V", "VISA1", "  "} {
		o := ops.PublishOptions{File: file, Provider: "radial", StoreID: "S1", TenderType: tender, RequireTenderType: true}
		err := ops.Publish(f.ctx, f.env(), o)
		if err == nil || !strings.Contains(err.Error(), "tender") || !strings.Contains(err.Error(), "nothing published") {
			t.Errorf("tender %q: err = %v, want a refusal naming the tender", tender, err)
		}
	}
	f.depth(broker.RequestQueue("radial"), 0)
	// With its tender it goes.
	if err := ops.Publish(f.ctx, f.env(), ops.PublishOptions{File: file, Provider: "radial", StoreID: "S1", TenderType: "VC", RequireTenderType: true}); err != nil {
		t.Fatal(err)
	}
	f.depth(broker.RequestQueue("radial"), 1)
}

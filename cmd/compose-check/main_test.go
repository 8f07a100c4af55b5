package main

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
)

func TestBuildRequests(t *testing.T) {
	reqs, err := buildRequests("../..", "abc123", 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, r := range reqs {
		if seen[r.id] || seen[r.order] {
			t.Fatalf("request %d: id %s / order %s repeated", i, r.id, r.order)
		}
		seen[r.id], seen[r.order] = true, true
		req, err := messages.DecodeSettlementRequest(r.body)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if req.RequestID != r.id || req.OrderID() != r.order || len(r.order) > 20 {
			t.Errorf("request %d: body has %s/%s, want %s/%s", i, req.RequestID, req.OrderID(), r.id, r.order)
		}
		if want := seeds[i%2].file; r.seed != want {
			t.Errorf("request %d from %s, want %s", i, r.seed, want)
		}
		if r.headers[headerStoreID] == "" || r.headers[headerTenderType] == "" {
			t.Errorf("request %d: headers %v", i, r.headers)
		}
		// The rest of the seed text is kept: the comments are still there.
		if !strings.Contains(string(r.body), "<!--") {
			t.Errorf("request %d: seed text not kept", i)
		}
	}
}

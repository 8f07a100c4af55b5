package intake

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRadialParametersThatAreNotTextAreRefused: a store id or tender type
// sent as a query parameter can hold bytes no status can carry (a NUL, a
// control character, invalid UTF-8). The intake answered 200 AckReply and
// published the request, which the worker then parks unrecorded with no
// status ever published (no valid PaymentSettlementStatus can echo it): the
// client was told "received" for a request that will never be answered.
// They are refused at the door with 400 InvalidRequest, nothing published.
func TestRadialParametersThatAreNotTextAreRefused(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	for i, tc := range []struct{ name, query, want string }{
		{"store id with NUL", "store_id=S%001&tender_type=VC", "store id"},
		{"store id with a control character", "store_id=S%011&tender_type=VC", "store id"},
		{"store id not UTF-8", "store_id=S%ff1&tender_type=VC", "store id"},
		{"tender type with NUL", "store_id=S1&tender_type=V%00", "tender type"},
		{"tender type with a control character", "store_id=S1&tender_type=V%01", "tender type"},
		{"store id with U+FFFF", "store_id=S%EF%BF%BF1&tender_type=VC", "store id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := validRequest("nt-" + string(rune('a'+i)))
			resp, body := e.post(radialPath+"?"+tc.query, "application/xml", encode(t, req), map[string]string{HeaderAPIKey: testRadialKey})
			f := checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
			if !strings.Contains(f.Description, tc.want) {
				t.Errorf("fault %q does not name the %s", f.Description, tc.want)
			}
			if ds := e.requests("radial", 300*time.Millisecond); len(ds) != 0 {
				t.Fatalf("published %d request(s)", len(ds))
			}
		})
	}
}

// TestRadialTenderTypeCountedInCharacters: the intake counted the tender
// type in bytes, the worker and the schema in characters. "é" (one
// character, two bytes) was answered 200 AckReply and published, and the
// worker parked it unrecorded (TenderType must be 2 to 4 characters): the
// client was told "received" for a request no status will ever answer;
// "ÉÉÉ" (three characters, six bytes), valid, was refused.
func TestRadialTenderTypeCountedInCharacters(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	t.Run("one character in two bytes is refused", func(t *testing.T) {
		req := validRequest("tt-char-1")
		resp, body := e.post(radialPath+"?store_id=S1&tender_type=%C3%A9", "application/xml", encode(t, req), map[string]string{HeaderAPIKey: testRadialKey})
		f := checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
		if !strings.Contains(f.Description, "tender type") {
			t.Errorf("fault %q does not name the tender type", f.Description)
		}
		if ds := e.requests("radial", 300*time.Millisecond); len(ds) != 0 {
			t.Fatalf("published %d request(s)", len(ds))
		}
	})
	t.Run("three characters in six bytes are accepted", func(t *testing.T) {
		req := validRequest("tt-char-2")
		resp, body := e.post(radialPath+"?store_id=S1&tender_type=%C3%89%C3%89%C3%89", "application/xml", encode(t, req), map[string]string{HeaderAPIKey: testRadialKey})
		checkAck(t, resp, body)
		if ds := e.requests("radial", 2*time.Second); len(ds) != 1 {
			t.Fatalf("published %d request(s), want 1", len(ds))
		}
	})
}

package miva_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestNotSent: only failures that prove the call did not reach Miva, or was
// refused before the function ran, are NotSent; a timeout, a lost reply, a
// 500/502/504, a gateway error or a bare 503/429 (a proxy's, perhaps after
// it forwarded the call) may have acted.
func TestNotSent(t *testing.T) {
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	// mivaAnswer is Miva's own error answer, with HTTP status code.
	mivaAnswer := func(code int, errorCode string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"success":0,"error_code":"` + errorCode + `","error_message":"refused"}`))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name    string
		faults  *sandbox.Faults
		url     string
		key     string
		notSent bool
	}{
		// A bare 503 or 429 is what a proxy answers also after it
		// forwarded the call (Envoy: "upstream connect error or
		// disconnect/reset before headers"), which Miva may commit late.
		{"bare 503 (the sandbox's, before acting, but it cannot be told from a proxy's)", &sandbox.Faults{FailNext: 1}, "", token, false},
		{"bare 429", nil, status(http.StatusTooManyRequests), token, false},
		{"503 with Miva's answer refusing the credentials", nil, mivaAnswer(http.StatusServiceUnavailable, "access_denied"), token, true},
		{"429 with Miva's answer refusing the function", nil, mivaAnswer(http.StatusTooManyRequests, "invalid_function"), token, true},
		{"503 with Miva's processor_unavailable: the gateway may have been reached", nil, mivaAnswer(http.StatusServiceUnavailable, "processor_unavailable"), token, false},
		{"503 with a Miva code the client does not know", nil, mivaAnswer(http.StatusServiceUnavailable, "rate_limited"), token, false},
		{"connection refused", nil, "http://127.0.0.1:1/mm5/json.mvc", token, true},
		{"access_denied: the function did not run", nil, "", "wrong-token-xyz", true},
		{"500", &sandbox.Faults{FailNext: 1, FailStatus: 500}, "", token, false},
		{"502", nil, status(http.StatusBadGateway), token, false},
		{"504", nil, status(http.StatusGatewayTimeout), token, false},
		{"lost reply (drop_next)", &sandbox.Faults{DropNext: 1}, "", token, false},
		{"timeout (hang_next)", &sandbox.Faults{HangNext: 1}, "", token, false},
		{"processor_unavailable: the gateway may have been reached", &sandbox.Faults{ErrorNext: 1}, "", token, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, seedExample)
			req := confirmed(t, e, debit("200102", "1.00"))
			url := tc.url
			if url == "" {
				url = e.url
			}
			c := newClient(t, url, tc.key, "")
			if tc.faults != nil {
				if err := e.sb.SetFaults(sandbox.EndpointCapture, *tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			_, err := c.Settle(context.Background(), req)
			if err == nil || providers.ClassOf(err) != providers.Transient {
				t.Fatalf("Settle: %v", err)
			}
			if got := providers.WasNotSent(err); got != tc.notSent {
				t.Fatalf("WasNotSent = %v, want %v: %v", got, tc.notSent, err)
			}
		})
	}
}

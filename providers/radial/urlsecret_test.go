package radial_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers/radial"
)

// TestBaseURLPathSecretIsNeverShown: a BaseURL may carry a secret in its
// path (a gateway's /t/TOKEN/ route). net/http's *url.Error names the whole
// URL, and the client kept it as the cause of a transport failure (a
// closed port, a timeout), whose text is logged; a BaseURL refused by
// Validate was quoted with its path.
func TestBaseURLPathSecretIsNeverShown(t *testing.T) {
	const secret = "PATH-SECRET-5be07c"
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	for _, tc := range []struct{ name, base string }{
		{"closed port", "http://127.0.0.1:1"},
		{"timeout", hang.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.base+"/gw/"+secret, apiKey)
			req := request("s-1", "O-1", "Debit", "10.00", "10.00")
			_, err := c.Settle(context.Background(), req)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("Settle's error (logged) shows the BaseURL's path secret or is nil: %v", err)
			}
			_, err = c.ConfirmFunds(context.Background(), req)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("ConfirmFunds' error (logged) shows the BaseURL's path secret or is nil: %v", err)
			}
		})
	}
	for _, base := range []string{"htps://gw.example.com/gw/" + secret, "https:gw.example.com/gw/" + secret} {
		err := radial.Config{BaseURL: base, APIKey: apiKey}.Validate()
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Validate(%s) shows the path secret or accepts it: %v", base, err)
		}
	}
}

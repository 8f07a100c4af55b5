package providers_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestHTTPClientDoesNotFollowRedirects: a provider's client followed
// redirects, as net/http's default does. A 307 or 308 to another host
// re-POSTed the call there, body (a settlement request carries the card's
// account number) and every header but Authorization included (Radial's
// apikey, Miva's X-Miva-API-Authorization; Authorization too when the new
// host has the same name, another port or scheme); a 301, 302 or 303 sent
// a GET there instead, whose answer the client then read as the
// provider's answer to the capture, a verdict included. No provider API
// redirects: the 3xx comes back as the answer, which every client
// classifies as a transient failure, and the other host gets nothing.
func TestHTTPClientDoesNotFollowRedirects(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" apikey="+r.Header.Get("apikey")+" authorization="+r.Header.Get("Authorization")+" body="+string(b))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"code":77,"error":"Transaction declined"}`))
	}))
	defer elsewhere.Close()

	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				http.Redirect(w, r, elsewhere.URL+"/capture", status)
			}))
			defer provider.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, provider.URL+"/settle", bytes.NewReader([]byte("<account>4400000000000008</account>")))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("apikey", "the-api-key")
			req.SetBasicAuth("user", "the-password")
			resp, err := providers.HTTPClient(5 * time.Second).Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("answer %d, want the provider's %d, not the other host's", resp.StatusCode, status)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) > 0 {
				t.Errorf("the redirect was followed: the other host received %q", got)
			}
		})
	}
}

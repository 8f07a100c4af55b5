package providertest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Detached503 starts a proxy in front of upstream (a provider's sandbox)
// that answers the first call detach picks with a 503 at once, as a proxy
// does when its upstream connection is reset before the answer's headers
// (Envoy's "upstream reset before headers"), while it forwards that call
// to upstream, where it goes on and may commit late; every other call is
// passed through, its answer held for hold(body) first when hold is set.
// detach and hold see every call, with its body, one call at a time in
// the order they arrive (hold the detached one too). wait returns once
// upstream has answered the detached call (it committed or refused it);
// the proxy waits for that, then closes, with the test.
func Detached503(t testing.TB, upstream string, detach func(r *http.Request, body []byte) bool, hold func(body []byte) time.Duration) (srv *httptest.Server, wait func()) {
	t.Helper()
	var mu sync.Mutex
	detachedOnce := false
	var wg sync.WaitGroup
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		forward := func() (*http.Response, error) {
			req, err := http.NewRequest(r.Method, upstream+r.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header = r.Header.Clone()
			return http.DefaultClient.Do(req)
		}
		mu.Lock()
		detached, delay := false, time.Duration(0)
		if !detachedOnce && detach(r, body) {
			detachedOnce, detached = true, true
		}
		if hold != nil {
			delay = hold(body)
		}
		mu.Unlock()
		if detached {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := forward(); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			time.Sleep(50 * time.Millisecond) // the call is on its way
			http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusServiceUnavailable)
			return
		}
		resp, err := forward()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		time.Sleep(delay)
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() { wg.Wait(); srv.Close() })
	return srv, wg.Wait
}

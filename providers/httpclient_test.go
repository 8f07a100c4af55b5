package providers_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Concurrent calls reuse their connections: 16 callers making 20 calls
// each open about 16 connections to the provider (a few more when a call
// starts before the previous one's connection is back in the pool), where
// net/http's default client, keeping 2 idle per host, dials for most calls.
func TestHTTPClientReusesConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	hc := providers.HTTPClient(5 * time.Second)
	const callers, calls = 16, 20
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				time.Sleep(time.Duration(i%3) * time.Millisecond) // callers out of step, as settlements are
				resp, err := hc.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := conns.Load(); n > 2*callers {
		t.Errorf("%d connections for %d concurrent callers (%d calls): connections are not reused", n, callers, callers*calls)
	}
}

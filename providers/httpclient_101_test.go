package providers_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestHTTPClientCallEndsOnA101: a provider (or a proxy before it)
// answering 101 Switching Protocols and holding the connection open hung
// the call forever: net/http hands a 101's connection over as the body,
// which neither the client's timeout nor the call's context closes, and
// every client reads the body in full. The settle call never returned:
// its settlement was neither recorded as uncertain nor parked, its order
// stayed locked and its consumer slot held, and nothing said so. The call
// ends within the timeout, as a transport failure.
func TestHTTPClientCallEndsOnA101(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := rawPeer(t, true, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"))
		<-release
	})
	hc := providers.HTTPClient(0) // the worker's: each provider bounds its calls with a context
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/settle", bytes.NewReader([]byte("<x/>")))
		resp, err := hc.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a 101 answer read as a complete reply")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call still running 5s past its 1s bound")
	}
}

package providers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// MaxIdleConnsPerHost is how many idle keep-alive connections a provider's
// client keeps to its host: at least as many as settlements run at once
// (CONCURRENCY), so that each call reuses one. net/http keeps 2 by
// default: under load every other call dialled (and TLS-handshook) a new
// connection and closed it after the answer, a twentieth of the worker's
// CPU and a TIME_WAIT socket per call.
const MaxIdleConnsPerHost = 256

// MaxReplyHeaderBytes bounds a reply's headers (status line included):
// no provider sends more than a few KiB, and net/http's default, 10 MiB,
// read and kept by every call in flight (4 MiB of headers took 9 MiB),
// let a provider or a proxy before it hold tens of MiB per settlement
// running, CONCURRENCY of them per provider. A reply with more ends its
// call as a transport failure (transient).
const MaxReplyHeaderBytes = 64 << 10

// HTTPClient is the client a provider's calls go through when the caller
// gives none: each call bounded by timeout, over a transport of its own
// (proxy from the environment, HTTP/2 when the provider offers it over
// TLS) that keeps MaxIdleConnsPerHost idle connections for 90 s. It never
// follows a redirect (noRedirect).
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: noUpgrade{NewTransport()}, CheckRedirect: noRedirect}
}

// noRedirect makes a 3xx the call's answer, which every client classifies
// as a transient failure naming the status. No provider API redirects, and
// following one would send the call to whatever host the Location names:
// a 307 or 308 re-POSTs the body (a settlement carries the card's account
// number) with every header but Authorization (Radial's apikey, Miva's
// X-Miva-API-Authorization; Authorization too to the same host name on
// another port or scheme), and a 301, 302 or 303 turns it into a GET there
// whose answer would be read as the provider's — a verdict included.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// noUpgrade refuses a 101 Switching Protocols answer as a transport
// failure: no provider call asks for an upgrade, and net/http hands a
// 101's connection over as the body, which neither a client timeout nor
// the call's context closes — a provider holding it open would hold the
// call forever.
type noUpgrade struct{ next http.RoundTripper }

func (t noUpgrade) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s answered 101 Switching Protocols, which no provider call asks for", r.URL.Host)
	}
	return resp, err
}

// CloseIdleConnections closes the transport's idle connections.
func (t noUpgrade) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// NewTransport is HTTPClient's transport.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:    MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: MaxReplyHeaderBytes,
	}
}

// WithoutURL is err, a failed call's error, without the URL net/http's
// *url.Error names in full ("Post \"https://host/path\": ..."): a base
// URL may carry a secret in its path, and this text is logged. It keeps
// the method and the cause (which errors.Is still finds); the reason
// beside it names the provider and the call.
func WithoutURL(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s: %w", ue.Op, ue.Err)
}

// ReadReply reads a reply's body, of at most limit bytes. A longer one is
// not cut at limit and parsed: a cut document is no answer, and parsed it
// would read as a provider sending garbage. It is a transient error
// instead (IsReplyTooLarge), which names the provider, the call and the
// status. Any other read failure is returned as it is, for the caller to
// classify as a failed exchange.
func ReadReply(provider, op string, resp *http.Response, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, TransientError("", fmt.Sprintf(
			"%s %s: HTTP %d with a reply larger than %d bytes, not read to its end nor taken as an answer; the call may have acted, so the next attempt recovers as after a timeout",
			provider, op, resp.StatusCode, limit), errReplyTooLarge)
	}
	return data, nil
}

// errReplyTooLarge marks ReadReply's error.
var errReplyTooLarge = errors.New("reply too large")

// IsReplyTooLarge reports whether err is ReadReply's error for a reply
// larger than its limit: a classified error, to return as it is.
func IsReplyTooLarge(err error) bool { return errors.Is(err, errReplyTooLarge) }

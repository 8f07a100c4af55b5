package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AdminClient sends JSON to a sandbox's admin API and decodes its replies;
// each sandbox's AdminClient wraps one.
type AdminClient struct {
	name string // the sandbox, in errors: "radial"
	base string // prefix URL + "/_sandbox"
	hc   *http.Client
}

// NewAdminClient returns a client for the admin API of the sandbox name
// mounted at prefixURL (the server URL plus the sandbox's prefix), or nil
// when prefixURL is not an absolute http(s) URL. A nil hc uses a client
// with a 10s timeout.
func NewAdminClient(name, prefixURL string, hc *http.Client) *AdminClient {
	u, err := url.Parse(prefixURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &AdminClient{name: name, base: strings.TrimRight(prefixURL, "/") + "/_sandbox", hc: hc}
}

// Do sends method to path (below /_sandbox) with in as the JSON body
// unless in is nil, and decodes a 2xx reply into out unless out is nil.
// Another status is an error, carrying the reply's AdminError when it has
// one.
func (c *AdminClient) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s sandbox admin %s %s: encoding: %w", c.name, method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s sandbox admin %s %s: %w", c.name, method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s sandbox admin %s %s: %w", c.name, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s sandbox admin %s %s: reading the reply: %w", c.name, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var ae AdminError
		if json.Unmarshal(data, &ae) == nil && ae.Error != "" {
			return fmt.Errorf("%s sandbox admin %s %s: HTTP %d: %s", c.name, method, path, resp.StatusCode, ae.Error)
		}
		return fmt.Errorf("%s sandbox admin %s %s: HTTP %d", c.name, method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s sandbox admin %s %s: decoding the reply: %w", c.name, method, path, err)
	}
	return nil
}

// Call is Do for a reply of type T.
func Call[T any](ctx context.Context, c *AdminClient, method, path string, in any) (T, error) {
	var out T
	err := c.Do(ctx, method, path, in, &out)
	return out, err
}

// WithQuery appends to path a query of the pairs of kv (key, value, key,
// value, ...) whose value is not empty.
func WithQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path
}

// WaitLedger calls ledger every 50ms until ok accepts the entries or ctx
// ends; it returns the last entries seen. c names the sandbox in errors.
func WaitLedger[E any](ctx context.Context, c *AdminClient, ledger func(context.Context) ([]E, error), ok func([]E) bool) ([]E, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		es, err := ledger(ctx)
		if err == nil && ok(es) {
			return es, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return es, fmt.Errorf("%s sandbox admin: waiting for the ledger: %w", c.name, err)
		case <-tick.C:
		}
	}
}

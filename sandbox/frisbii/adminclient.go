package frisbii

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

// AdminClient speaks the sandbox's JSON admin API, for demos and end-to-end
// tests that run the sandbox as a separate process.
type AdminClient struct {
	base string
	hc   *http.Client
}

// NewAdminClient returns a client for the sandbox mounted at baseURL, the
// same URL the worker uses as FRISBII_BASE_URL (for example
// "http://127.0.0.1:8081/frisbii"). A nil hc uses a client with a 10s timeout.
func NewAdminClient(baseURL string, hc *http.Client) (*AdminClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("frisbii sandbox admin: base URL %q is not an absolute http(s) URL", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &AdminClient{base: strings.TrimRight(baseURL, "/") + "/_sandbox", hc: hc}, nil
}

// SeedCharge creates or replaces a charge.
func (c *AdminClient) SeedCharge(ctx context.Context, seed ChargeSeed) (ChargeInfo, error) {
	var ci ChargeInfo
	err := c.do(ctx, http.MethodPut, AdminCharges, seed, &ci)
	return ci, err
}

// Charge returns one charge with its balances and transactions.
func (c *AdminClient) Charge(ctx context.Context, handle string) (ChargeInfo, error) {
	var ci ChargeInfo
	err := c.do(ctx, http.MethodGet, AdminCharges+"/"+url.PathEscape(handle), nil, &ci)
	return ci, err
}

// Charges lists every charge.
func (c *AdminClient) Charges(ctx context.Context) ([]ChargeInfo, error) {
	var cs []ChargeInfo
	err := c.do(ctx, http.MethodGet, AdminCharges, nil, &cs)
	return cs, err
}

// SetFaults replaces the fault knobs of an endpoint (charge, settle,
// refund, refund_get or all).
func (c *AdminClient) SetFaults(ctx context.Context, ep Endpoint, f Faults) (FaultsState, error) {
	var st FaultsState
	err := c.do(ctx, http.MethodPut, AdminFaults, FaultsRequest{Endpoint: ep, Faults: f}, &st)
	return st, err
}

// Faults returns the current fault knobs.
func (c *AdminClient) Faults(ctx context.Context) (FaultsState, error) {
	var st FaultsState
	err := c.do(ctx, http.MethodGet, AdminFaults, nil, &st)
	return st, err
}

// Ledger returns the ledger entries matching f.
func (c *AdminClient) Ledger(ctx context.Context, f LedgerFilter) ([]Entry, error) {
	q := url.Values{}
	for k, v := range map[string]string{"handle": f.Handle, "key": f.Key, "kind": f.Kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := AdminLedger
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var es []Entry
	err := c.do(ctx, http.MethodGet, path, nil, &es)
	return es, err
}

// Calls returns the call counters.
func (c *AdminClient) Calls(ctx context.Context) (Calls, error) {
	var cs Calls
	err := c.do(ctx, http.MethodGet, AdminCalls, nil, &cs)
	return cs, err
}

// Reset clears the sandbox (see Sandbox.Reset).
func (c *AdminClient) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, AdminReset, nil, nil)
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("frisbii sandbox admin %s %s: encoding: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("frisbii sandbox admin %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("frisbii sandbox admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("frisbii sandbox admin %s %s: reading the reply: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var ae adminError
		if json.Unmarshal(data, &ae) == nil && ae.Error != "" {
			return fmt.Errorf("frisbii sandbox admin %s %s: HTTP %d: %s", method, path, resp.StatusCode, ae.Error)
		}
		return fmt.Errorf("frisbii sandbox admin %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("frisbii sandbox admin %s %s: decoding the reply: %w", method, path, err)
	}
	return nil
}

package paysafe

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
// same URL the worker uses as PAYSAFE_BASE_URL (for example
// "http://127.0.0.1:8081/paysafe"). A nil hc uses a client with a 10s
// timeout.
func NewAdminClient(baseURL string, hc *http.Client) (*AdminClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("paysafe sandbox admin: base URL %q is not an absolute http(s) URL", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &AdminClient{base: strings.TrimRight(baseURL, "/") + "/_sandbox", hc: hc}, nil
}

// Authorize creates or replaces an authorization.
func (c *AdminClient) Authorize(ctx context.Context, a Authorization) (AuthorizationState, error) {
	var st AuthorizationState
	err := c.do(ctx, http.MethodPut, AdminAuthorizations, a, &st)
	return st, err
}

// Authorizations lists every authorization and what remains of it.
func (c *AdminClient) Authorizations(ctx context.Context) ([]AuthorizationState, error) {
	var st []AuthorizationState
	err := c.do(ctx, http.MethodGet, AdminAuthorizations, nil, &st)
	return st, err
}

// RunBatch batches every pending settlement and refund now.
func (c *AdminClient) RunBatch(ctx context.Context) (BatchResult, error) {
	var r BatchResult
	err := c.do(ctx, http.MethodPost, AdminBatch, nil, &r)
	return r, err
}

// Cancel cancels a settlement or refund (kind) not batched yet.
func (c *AdminClient) Cancel(ctx context.Context, accountID, kind, id string) (Entry, error) {
	var e Entry
	err := c.do(ctx, http.MethodPost, AdminCancel, CancelRequest{AccountID: accountID, Kind: kind, ID: id}, &e)
	return e, err
}

// SetFaults replaces the fault knobs of an endpoint (or all).
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
	for k, v := range map[string]string{"account_id": f.AccountID, "kind": f.Kind,
		"merchant_ref_num": f.MerchantRefNum, "authorization_id": f.AuthorizationID} {
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

// WaitLedger polls the ledger until ok accepts the entries matching f or
// ctx ends; it returns the last entries seen.
func (c *AdminClient) WaitLedger(ctx context.Context, f LedgerFilter, ok func([]Entry) bool) ([]Entry, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		es, err := c.Ledger(ctx, f)
		if err == nil && ok(es) {
			return es, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return es, fmt.Errorf("paysafe sandbox admin: waiting for the ledger: %w", err)
		case <-tick.C:
		}
	}
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("paysafe sandbox admin %s %s: encoding: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("paysafe sandbox admin %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("paysafe sandbox admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("paysafe sandbox admin %s %s: reading the reply: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var ae adminError
		if json.Unmarshal(data, &ae) == nil && ae.Error != "" {
			return fmt.Errorf("paysafe sandbox admin %s %s: HTTP %d: %s", method, path, resp.StatusCode, ae.Error)
		}
		return fmt.Errorf("paysafe sandbox admin %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("paysafe sandbox admin %s %s: decoding the reply: %w", method, path, err)
	}
	return nil
}

package frisbii

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// AdminClient speaks the sandbox's JSON admin API, for demos and end-to-end
// tests that run the sandbox as a separate process.
type AdminClient struct {
	kc *kit.AdminClient
}

// NewAdminClient returns a client for the sandbox mounted at baseURL, the
// same URL the worker uses as FRISBII_BASE_URL (for example
// "http://127.0.0.1:8081/frisbii"). A nil hc uses a client with a 10s timeout.
func NewAdminClient(baseURL string, hc *http.Client) (*AdminClient, error) {
	kc := kit.NewAdminClient("frisbii", baseURL, hc)
	if kc == nil {
		return nil, fmt.Errorf("frisbii sandbox admin: base URL %q is not an absolute http(s) URL", baseURL)
	}
	return &AdminClient{kc: kc}, nil
}

// SeedCharge creates or replaces a charge.
func (c *AdminClient) SeedCharge(ctx context.Context, seed ChargeSeed) (ChargeInfo, error) {
	return kit.Call[ChargeInfo](ctx, c.kc, http.MethodPut, AdminCharges, seed)
}

// Charge returns one charge with its balances and transactions.
func (c *AdminClient) Charge(ctx context.Context, handle string) (ChargeInfo, error) {
	return kit.Call[ChargeInfo](ctx, c.kc, http.MethodGet, AdminCharges+"/"+url.PathEscape(handle), nil)
}

// Charges lists every charge.
func (c *AdminClient) Charges(ctx context.Context) ([]ChargeInfo, error) {
	return kit.Call[[]ChargeInfo](ctx, c.kc, http.MethodGet, AdminCharges, nil)
}

// SetFaults replaces the fault knobs of an endpoint (charge, settle,
// refund, refund_get or all).
func (c *AdminClient) SetFaults(ctx context.Context, ep Endpoint, f Faults) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodPut, AdminFaults, FaultsRequest{Endpoint: ep, Faults: f})
}

// Faults returns the current fault knobs.
func (c *AdminClient) Faults(ctx context.Context) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodGet, AdminFaults, nil)
}

// Ledger returns the ledger entries matching f.
func (c *AdminClient) Ledger(ctx context.Context, f LedgerFilter) ([]Entry, error) {
	path := kit.WithQuery(AdminLedger, "handle", f.Handle, "key", f.Key, "kind", f.Kind)
	return kit.Call[[]Entry](ctx, c.kc, http.MethodGet, path, nil)
}

// Calls returns the call counters.
func (c *AdminClient) Calls(ctx context.Context) (Calls, error) {
	return kit.Call[Calls](ctx, c.kc, http.MethodGet, AdminCalls, nil)
}

// Reset clears the sandbox (see Sandbox.Reset).
func (c *AdminClient) Reset(ctx context.Context) error {
	return c.kc.Do(ctx, http.MethodPost, AdminReset, nil, nil)
}

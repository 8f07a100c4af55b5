package radial

import (
	"context"
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// AdminClient speaks the sandbox's JSON admin API, for demos and end-to-end
// tests that run the sandbox as a separate process.
type AdminClient struct {
	kc *kit.AdminClient
}

// NewAdminClient returns a client for the sandbox mounted at baseURL, the
// same URL the worker uses as RADIAL_BASE_URL (for example
// "http://127.0.0.1:8081/radial"). A nil hc uses a client with a 10s timeout.
func NewAdminClient(baseURL string, hc *http.Client) (*AdminClient, error) {
	kc := kit.NewAdminClient("radial", baseURL, hc)
	if kc == nil {
		return nil, fmt.Errorf("radial sandbox admin: base URL %q is not an absolute http(s) URL", baseURL)
	}
	return &AdminClient{kc: kc}, nil
}

// Authorize creates or replaces an authorization script.
func (c *AdminClient) Authorize(ctx context.Context, a Authorization) (AuthorizationState, error) {
	return kit.Call[AuthorizationState](ctx, c.kc, http.MethodPut, AdminAuthorizations, a)
}

// Authorizations lists every authorization and its balances.
func (c *AdminClient) Authorizations(ctx context.Context) ([]AuthorizationState, error) {
	return kit.Call[[]AuthorizationState](ctx, c.kc, http.MethodGet, AdminAuthorizations, nil)
}

// SetFaults replaces the fault knobs of an endpoint (confirm, settle, all).
func (c *AdminClient) SetFaults(ctx context.Context, ep Endpoint, f Faults) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodPut, AdminFaults, FaultsRequest{Endpoint: ep, Faults: f})
}

// Faults returns the current fault knobs.
func (c *AdminClient) Faults(ctx context.Context) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodGet, AdminFaults, nil)
}

// Ledger returns the ledger entries matching f.
func (c *AdminClient) Ledger(ctx context.Context, f LedgerFilter) ([]Entry, error) {
	path := kit.WithQuery(AdminLedger, "request_id", f.RequestID, "order_id", f.OrderID)
	return kit.Call[[]Entry](ctx, c.kc, http.MethodGet, path, nil)
}

// Calls returns the call counters.
func (c *AdminClient) Calls(ctx context.Context) (Calls, error) {
	return kit.Call[Calls](ctx, c.kc, http.MethodGet, AdminCalls, nil)
}

// Statuses returns the statuses emitted since the last reset (without
// their XML bodies).
func (c *AdminClient) Statuses(ctx context.Context) ([]StatusRecord, error) {
	return kit.Call[[]StatusRecord](ctx, c.kc, http.MethodGet, AdminStatuses, nil)
}

// Reset clears the sandbox (see Sandbox.Reset).
func (c *AdminClient) Reset(ctx context.Context) error {
	return c.kc.Do(ctx, http.MethodPost, AdminReset, nil, nil)
}

// WaitLedger polls the ledger until ok accepts the entries matching f or
// ctx ends; it returns the last entries seen.
func (c *AdminClient) WaitLedger(ctx context.Context, f LedgerFilter, ok func([]Entry) bool) ([]Entry, error) {
	return kit.WaitLedger(ctx, c.kc, func(ctx context.Context) ([]Entry, error) { return c.Ledger(ctx, f) }, ok)
}

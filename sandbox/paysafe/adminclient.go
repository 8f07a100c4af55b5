package paysafe

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
// same URL the worker uses as PAYSAFE_BASE_URL (for example
// "http://127.0.0.1:8081/paysafe"). A nil hc uses a client with a 10s
// timeout.
func NewAdminClient(baseURL string, hc *http.Client) (*AdminClient, error) {
	kc := kit.NewAdminClient("paysafe", baseURL, hc)
	if kc == nil {
		return nil, fmt.Errorf("paysafe sandbox admin: base URL %q is not an absolute http(s) URL", baseURL)
	}
	return &AdminClient{kc: kc}, nil
}

// Authorize creates or replaces an authorization.
func (c *AdminClient) Authorize(ctx context.Context, a Authorization) (AuthorizationState, error) {
	return kit.Call[AuthorizationState](ctx, c.kc, http.MethodPut, AdminAuthorizations, a)
}

// Authorizations lists every authorization and what remains of it.
func (c *AdminClient) Authorizations(ctx context.Context) ([]AuthorizationState, error) {
	return kit.Call[[]AuthorizationState](ctx, c.kc, http.MethodGet, AdminAuthorizations, nil)
}

// RunBatch batches every pending settlement and refund now.
func (c *AdminClient) RunBatch(ctx context.Context) (BatchResult, error) {
	return kit.Call[BatchResult](ctx, c.kc, http.MethodPost, AdminBatch, nil)
}

// Cancel cancels a settlement or refund (kind) not batched yet.
func (c *AdminClient) Cancel(ctx context.Context, accountID, kind, id string) (Entry, error) {
	return kit.Call[Entry](ctx, c.kc, http.MethodPost, AdminCancel, CancelRequest{AccountID: accountID, Kind: kind, ID: id})
}

// SetFaults replaces the fault knobs of an endpoint (or all).
func (c *AdminClient) SetFaults(ctx context.Context, ep Endpoint, f Faults) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodPut, AdminFaults, FaultsRequest{Endpoint: ep, Faults: f})
}

// Faults returns the current fault knobs.
func (c *AdminClient) Faults(ctx context.Context) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodGet, AdminFaults, nil)
}

// Ledger returns the ledger entries matching f.
func (c *AdminClient) Ledger(ctx context.Context, f LedgerFilter) ([]Entry, error) {
	path := kit.WithQuery(AdminLedger, "account_id", f.AccountID, "kind", f.Kind,
		"merchant_ref_num", f.MerchantRefNum, "authorization_id", f.AuthorizationID)
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

// WaitLedger polls the ledger until ok accepts the entries matching f or
// ctx ends; it returns the last entries seen.
func (c *AdminClient) WaitLedger(ctx context.Context, f LedgerFilter, ok func([]Entry) bool) ([]Entry, error) {
	return kit.WaitLedger(ctx, c.kc, func(ctx context.Context) ([]Entry, error) { return c.Ledger(ctx, f) }, ok)
}

package miva

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// AdminClient speaks the sandbox's JSON admin API, for demos and end-to-end
// tests that run the sandbox as a separate process.
type AdminClient struct {
	kc *kit.AdminClient
}

// NewAdminClient returns a client for the sandbox mounted at prefixURL: the
// server URL plus the sandbox's prefix (for example
// "http://127.0.0.1:8081/miva"; the worker's MIVA_BASE_URL is then
// prefixURL + "/mm5/json.mvc"). A nil hc uses a client with a 10s timeout.
func NewAdminClient(prefixURL string, hc *http.Client) (*AdminClient, error) {
	kc := kit.NewAdminClient("miva", prefixURL, hc)
	if kc == nil {
		return nil, fmt.Errorf("miva sandbox admin: URL %q is not an absolute http(s) URL", prefixURL)
	}
	return &AdminClient{kc: kc}, nil
}

// SeedOrder creates or replaces an order and its payment records.
func (c *AdminClient) SeedOrder(ctx context.Context, o OrderSeed) (OrderState, error) {
	return kit.Call[OrderState](ctx, c.kc, http.MethodPut, AdminOrders, o)
}

// Order returns one order with its records and totals.
func (c *AdminClient) Order(ctx context.Context, orderID int64) (OrderState, error) {
	return kit.Call[OrderState](ctx, c.kc, http.MethodGet, AdminOrders+"/"+strconv.FormatInt(orderID, 10), nil)
}

// Orders lists every order.
func (c *AdminClient) Orders(ctx context.Context) ([]OrderState, error) {
	return kit.Call[[]OrderState](ctx, c.kc, http.MethodGet, AdminOrders, nil)
}

// SetFaults replaces the fault knobs of an endpoint (list, capture,
// refund, void or all).
func (c *AdminClient) SetFaults(ctx context.Context, ep Endpoint, f Faults) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodPut, AdminFaults, FaultsRequest{Endpoint: ep, Faults: f})
}

// Faults returns the current fault knobs.
func (c *AdminClient) Faults(ctx context.Context) (FaultsState, error) {
	return kit.Call[FaultsState](ctx, c.kc, http.MethodGet, AdminFaults, nil)
}

// Ledger returns the ledger entries matching f.
func (c *AdminClient) Ledger(ctx context.Context, f LedgerFilter) ([]Entry, error) {
	var orderID string
	if f.OrderID != 0 {
		orderID = strconv.FormatInt(f.OrderID, 10)
	}
	path := kit.WithQuery(AdminLedger, "order_id", orderID, "function", f.Function)
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

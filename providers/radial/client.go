// Package radial is settlement-worker's client of Radial's Confirm Funds and
// Payment Settlement APIs. It implements providers.Provider:
//
//	ConfirmFunds  POST {BaseURL}/{Version}/stores/{StoreId}/payments/funds/confirm/{TenderType}.xml
//	Settle        POST {BaseURL}/{Version}/stores/{StoreId}/payments/settlement/create/{TenderType}.xml
//
// Settle answers providers.Accepted on Radial's AckReply: the verdict (S or
// R) arrives later as a PaymentSettlementStatus on Radial's status queue.
// Every failure is transient (retried, then parked for an operator): fault
// replies, 5xx, 401/403, timeouts, transport errors, unparseable replies
// and a ConfirmFundsReply that echoes another order.
// Radial allows resubmitting the same requestId after a read timeout or a
// fault, so retries are safe. Neither the API key nor the payment account
// number ever appears in an error.
package radial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Name is the provider's routing name.
const Name = "radial"

// maxReplyBytes bounds how much of a reply is read.
const maxReplyBytes = 1 << 20

// ConfirmNamespace is the UUID namespace of ConfirmFunds requestIds.
var ConfirmNamespace = uuid.MustParse("6f1d8a52-3b0e-4c57-9a1e-2d4b7c9e0f13")

// Client calls Radial. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
}

var _ providers.Provider = (*Client)(nil)

// New validates cfg and returns a client. A nil hc uses providers.HTTPClient;
// every call is bounded by cfg.Timeout whatever hc's own timeout.
func New(cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if hc == nil {
		hc = providers.HTTPClient(cfg.Timeout)
	}
	return &Client{cfg: cfg, hc: hc}, nil
}

// Name returns "radial".
func (c *Client) Name() string { return Name }

// ConfirmRequestID is a requestId of the ConfirmFunds call of a
// settlement: a UUIDv5 of requestID + "/confirm/" + attempt. The first
// confirmation sends the one of its attempt; a retry sends the one
// recorded (RefConfirmRequestID): the same after a failure that left the
// outcome unknown (Radial answers from its record and reauthorizes once),
// the one of the next attempt after a Timeout answer, as Radial requires.
func ConfirmRequestID(requestID string, attempt int) string {
	return uuid.NewSHA1(ConfirmNamespace, []byte(requestID+"/confirm/"+strconv.Itoa(attempt))).String()
}

// endpointURL builds {BaseURL}/{Version}/stores/{store}/payments/{op}/{tender}.xml.
func (c *Client) endpointURL(req *providers.Request, op string) (string, error) {
	if req.StoreID == "" || req.TenderType == "" {
		return "", errors.New("radial: request has no store id or tender type")
	}
	return c.cfg.BaseURL + "/" + c.cfg.Version + "/stores/" + url.PathEscape(req.StoreID) +
		"/payments/" + op + "/" + url.PathEscape(req.TenderType) + ".xml", nil
}

// reply is an HTTP answer read in full.
type reply struct {
	status int
	body   []byte
}

// post sends an XML body with the apikey header, bounded by cfg.Timeout.
// Transport failures and timeouts come back as transient errors.
func (c *Client) post(ctx context.Context, op, endpoint string, body []byte) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return reply{}, fmt.Errorf("radial %s: building the request: %w", op, providers.WithoutURL(err))
	}
	hr.Header.Set("Content-Type", "application/xml; charset=utf-8")
	hr.Header.Set("Accept", "application/xml")
	hr.Header.Set("apikey", c.cfg.APIKey)
	resp, err := c.hc.Do(hr)
	if err != nil {
		return reply{}, c.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := providers.ReadReply(Name, op, resp, maxReplyBytes)
	if providers.IsReplyTooLarge(err) {
		return reply{}, err
	}
	if err != nil {
		return reply{}, c.transportError(ctx, op, err)
	}
	return reply{status: resp.StatusCode, body: data}, nil
}

// transportError classifies a failed exchange as transient.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	reason := "radial " + op + ": request failed"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = fmt.Sprintf("radial %s: no answer within %s (read timeout; retrying with the same requestId is safe)", op, c.cfg.Timeout)
	}
	return providers.TransientError("", reason, providers.WithoutURL(err))
}

// failure classifies a reply that is not the expected message. secrets are
// masked wherever a reply could echo them.
func failure(op string, r reply, secrets ...string) error {
	if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
		return providers.TransientError(strconv.Itoa(r.status), fmt.Sprintf(
			"radial %s: HTTP %d: Radial refused the API key; check the configured Radial API key (RADIAL_API_KEY), then replay the parked request",
			op, r.status), nil)
	}
	if f, err := messages.DecodeFault(r.body); err == nil {
		code := truncate(redact(f.Code, secrets...), 64)
		return providers.TransientError(code, redact(fmt.Sprintf("radial %s: fault reply (HTTP %d): %s: %s",
			op, r.status, f.Code, providers.Quoted(redact(f.Description, secrets...))), secrets...), nil)
	}
	if r.status >= 500 {
		return providers.TransientError(strconv.Itoa(r.status), fmt.Sprintf("radial %s: HTTP %d %s", op, r.status, http.StatusText(r.status)), nil)
	}
	if r.status/100 != 2 {
		return providers.TransientError(strconv.Itoa(r.status), fmt.Sprintf("radial %s: unexpected HTTP %d %s", op, r.status, http.StatusText(r.status)), nil)
	}
	return providers.TransientError("", fmt.Sprintf("radial %s: HTTP %d with an unparseable reply (%d bytes)", op, r.status, len(r.body)), nil)
}

// redact masks every secret (API key, account number) found in s, as
// given and without the white space around it (a fault echoes the account
// as Radial normalized it), then every other card number in it
// (messages.MaskPANs).
func redact(s string, secrets ...string) string {
	for _, v := range secrets {
		for _, form := range []string{v, strings.TrimSpace(v)} {
			if form != "" {
				s = strings.ReplaceAll(s, form, messages.MaskAccount(form))
			}
		}
	}
	return messages.MaskPANs(s)
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// account returns the message's payment account number, to redact.
func account(m *messages.PaymentSettlementRequest) string {
	if m == nil || m.PaymentContext == nil {
		return ""
	}
	return m.PaymentContext.PaymentAccountUniqueID.Value
}

// Package miva is settlement-worker's client of the Miva Merchant JSON API
// (one endpoint per store, .../mm5/json.mvc). It implements
// providers.Provider and providers.Reconciler:
//
//	ConfirmFunds  OrderPaymentList_Load: choose the authorization record
//	              (type 1, 3 or 5) to capture from; record a baseline.
//	Settle        Debit: OrderPayment_Capture on that record.
//	              Credit: OrderPayment_Refund on a capture record (2, 4, 5).
//	Reconcile     OrderPaymentList_Load again: did an uncertain earlier
//	              capture / refund happen?
//
// Miva offers no idempotency key and its capture and refund are not
// idempotent, so a settlement found in "submitting" after a crash or a lost
// reply is never simply resubmitted: Reconcile compares the payment list
// with the baseline recorded by ConfirmFunds (ConfirmResult.Refs) and
// answers found=true (Settled) when the capture is there.
//
// Amounts are exact: Miva's JSON numbers (7.0, 1.25) are decoded from their
// text into decimals, never through float64, and amounts are sent as JSON
// numbers written from decimal text with the currency's exponent (1.00 USD,
// 700 JPY, 1.250 KWD). Neither the API token nor the signing key ever
// appears in an error; Miva requests carry no card data.
package miva

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Name is the provider's routing name.
const Name = "miva"

// JSON API functions the client calls.
const (
	FunctionPaymentList = "OrderPaymentList_Load"
	FunctionCapture     = "OrderPayment_Capture"
	FunctionRefund      = "OrderPayment_Refund"
)

// AuthorizationHeader carries "MIVA <token>" or
// "MIVA-HMAC-SHA256 <token>:<base64 HMAC of the body>" (Miva JSON API
// documentation, "Authentication"; key base64-decoded as Miva's SDKs do).
const AuthorizationHeader = "X-Miva-API-Authorization"

// maxReplyBytes bounds how much of a reply is read.
const maxReplyBytes = 4 << 20

// Client calls one Miva store. It is safe for concurrent use.
type Client struct {
	cfg Config
	key []byte
	hc  *http.Client
	now func() time.Time
}

var (
	_ providers.Provider   = (*Client)(nil)
	_ providers.Reconciler = (*Client)(nil)
)

// New validates cfg and returns a client. A nil hc uses providers.HTTPClient;
// every call is bounded by cfg.Timeout whatever hc's own timeout.
func New(cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	c := &Client{cfg: cfg, hc: hc, now: time.Now}
	if cfg.SigningKey != "" {
		c.key, _ = base64.StdEncoding.DecodeString(cfg.SigningKey) // checked by Validate
	}
	if c.hc == nil {
		c.hc = providers.HTTPClient(cfg.Timeout)
	}
	return c, nil
}

// Name returns "miva".
func (c *Client) Name() string { return Name }

// authorization returns the X-Miva-API-Authorization value for body.
func (c *Client) authorization(body []byte) string {
	if c.key == nil {
		return "MIVA " + c.cfg.APIToken
	}
	m := hmac.New(sha256.New, c.key)
	m.Write(body)
	return "MIVA-HMAC-SHA256 " + c.cfg.APIToken + ":" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// call runs one JSON API function and returns its "data". Every failure is
// a classified *providers.Error.
func (c *Client) call(ctx context.Context, function string, body any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("miva %s: encoding the request: %w", function, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("miva %s: building the request: %w", function, providers.WithoutURL(err))
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "settlement-worker (miva)")
	hr.Header.Set(AuthorizationHeader, c.authorization(data))
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, c.transportError(ctx, function, err)
	}
	defer resp.Body.Close()
	raw, err := providers.ReadReply(Name, function, resp, maxReplyBytes)
	if providers.IsReplyTooLarge(err) {
		return nil, err
	}
	if err != nil {
		return nil, c.transportError(ctx, function, err)
	}
	return c.decode(function, resp.StatusCode, raw)
}

// transportError classifies a failed exchange as transient.
func (c *Client) transportError(ctx context.Context, function string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		// Nothing listened: the call cannot have reached Miva.
		return providers.NotSentError("", "miva "+function+": connection refused (the call did not reach Miva)", errors.New(c.redact(providers.WithoutURL(err).Error())))
	}
	reason := "miva " + function + ": request failed (the call may have reached Miva; a retry reconciles first)"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = fmt.Sprintf("miva %s: no answer within %s (the call may have reached Miva; a retry reconciles first)", function, c.cfg.Timeout)
	}
	return providers.TransientError("", reason, errors.New(c.redact(providers.WithoutURL(err).Error())))
}

// envelope is the JSON API answer.
type envelope struct {
	Success      json.RawMessage `json:"success"`
	Data         json.RawMessage `json:"data"`
	ErrorCode    flexString      `json:"error_code"`
	ErrorMessage flexString      `json:"error_message"`
}

// decode classifies an HTTP answer and returns the data of a success.
// Answers that prove the function did not run (HTTP 401/403, a Miva error
// body refusing the credentials, store or function) are NotSent. HTTP 503
// and 429 are NotSent only when Miva's own error body says so (they are
// classified by it, as a 200 error answer is): Miva documents no answer
// of its own for them, and a bare one is what a proxy answers when its
// upstream connection is reset after it forwarded the call (Envoy's 503
// "upstream connect error or disconnect/reset before headers"), which Miva
// may commit later than the settle window. Without an idempotency key
// such a call is uncertain: reconciled after the window, and parked for a
// person when the list shows nothing (never called again). 500, 502, 504
// and any other error may come after Miva acted.
func (c *Client) decode(function string, status int, raw []byte) (json.RawMessage, error) {
	code := strconv.Itoa(status)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, providers.NotSentError(code, fmt.Sprintf(
			"miva %s: HTTP %d: Miva refused the credentials; check MIVA_API_TOKEN and MIVA_SIGNING_KEY, then replay the parked request", function, status), nil)
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		var env envelope
		if providers.UnmarshalReply(raw, &env) == nil {
			if ok, known := successFlag(env.Success); known && !ok {
				return nil, c.classify(function, string(env.ErrorCode), string(env.ErrorMessage))
			}
		}
		return nil, providers.TransientError(code, fmt.Sprintf(
			"miva %s: HTTP %d %s without Miva's error answer (a proxy answers so also after it forwarded the call: it may have reached Miva)",
			function, status, http.StatusText(status)), nil)
	case status >= 500:
		return nil, providers.TransientError(code, fmt.Sprintf("miva %s: HTTP %d %s", function, status, http.StatusText(status)), nil)
	case status/100 != 2:
		return nil, providers.TransientError(code, fmt.Sprintf("miva %s: unexpected HTTP %d %s", function, status, http.StatusText(status)), nil)
	}
	var env envelope
	if err := providers.UnmarshalReply(raw, &env); err != nil {
		return nil, providers.TransientError("", fmt.Sprintf("miva %s: HTTP %d with an unparseable reply (%d bytes%s)", function, status, len(raw), providers.NotJSONTextDetail(err)), nil)
	}
	ok, known := successFlag(env.Success)
	switch {
	case known && ok:
		return env.Data, nil
	case known:
		return nil, c.classify(function, string(env.ErrorCode), string(env.ErrorMessage))
	}
	return nil, providers.TransientError("", fmt.Sprintf("miva %s: HTTP %d reply without a success flag", function, status), nil)
}

// successFlag reads "success": 1 / 0, true / false (or those as strings).
func successFlag(raw json.RawMessage) (ok, known bool) {
	switch strings.Trim(string(bytes.TrimSpace(raw)), `"`) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// Package frisbii is settlement-worker's client of Frisbii's (formerly
// Reepay's) payment API. It implements providers.Provider, Reconciler and
// Poller:
//
//	ConfirmFunds  GET  {BaseURL}/v1/charge/{handle}
//	Settle debit  POST {BaseURL}/v1/charge/{handle}/settle
//	Settle credit POST {BaseURL}/v1/refund
//	Poll          GET  {BaseURL}/v1/refund/{id}   (a refund still processing)
//
// Authentication is HTTP basic auth with the private API key as user name
// and an empty password. Every money-moving call carries the idempotency key
// req.RequestID, the same on every retry, so a retry after a timeout or a
// 5xx can never settle or refund twice (seed 002: "multiple requests with
// the same key will yield the same result. In case of networking errors the
// same request with same key can safely be retried").
//
// Frisbii answers acquirer declines with HTTP 200 and the charge's (or
// refund's) error_state and error; other failures with an error body
// {"code","error","message","http_status",...}. DeclineClasses and
// ErrorClasses say how each is treated. Neither the API key nor card data
// ever appears in an error.
package frisbii

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Name is the provider's routing name.
const Name = "frisbii"

// maxReplyBytes bounds how much of a reply is read.
const maxReplyBytes = 1 << 20

// Client calls Frisbii. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
	// hostNow is the host's clock (time.Now; tests skew it).
	hostNow func() time.Time
	// keyOnWire is the API key as it travels (redact), made once.
	keyOnWire string
}

var (
	_ providers.Provider   = (*Client)(nil)
	_ providers.Reconciler = (*Client)(nil)
	_ providers.Poller     = (*Client)(nil)
)

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
	c := &Client{cfg: cfg, hc: hc, hostNow: time.Now}
	if cfg.APIKey != "" {
		c.keyOnWire = base64.RawStdEncoding.EncodeToString([]byte(cfg.APIKey + ":"))
	}
	return c, nil
}

// Name returns "frisbii".
func (c *Client) Name() string { return Name }

// reply is an HTTP answer read in full.
type reply struct {
	status int
	body   []byte
}

// call sends one request (in, when not nil, as a JSON body) bounded by
// cfg.Timeout. Transport failures and timeouts come back as transient
// errors.
func (c *Client) call(ctx context.Context, op, method, path string, in any) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return reply{}, fmt.Errorf("frisbii %s: encoding the request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, body)
	if err != nil {
		return reply{}, fmt.Errorf("frisbii %s: building the request: %w", op, providers.WithoutURL(err))
	}
	if in != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	hr.SetBasicAuth(c.cfg.APIKey, "")
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

// transportError classifies a failed exchange as transient. The URL error
// is dropped from the message: it is rebuilt without the request's details.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	reason := "frisbii " + op + ": no answer (connection failed); retrying with the same idempotency key is safe"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = fmt.Sprintf("frisbii %s: no answer within %s (timeout); retrying with the same idempotency key is safe", op, c.cfg.Timeout)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		// Refused before any byte of the request reached Frisbii.
		return providers.NotSentError("", "frisbii "+op+": connection refused, nothing was sent; retrying with the same idempotency key is safe", errors.New(c.redact(providers.WithoutURL(err).Error())))
	}
	return providers.TransientError("", reason, errors.New(c.redact(providers.WithoutURL(err).Error())))
}

// redact removes the API key from s (defence in depth: Frisbii never
// echoes it, but a proxy or a misconfigured URL could), as configured and
// as it travels: a proxy echoing the request's headers echoes the
// Authorization header's base64 of "key:" (unpadded here, so that an echo
// with or without its '=' is found; made once, in New).
func (c *Client) redact(s string) string {
	if c.cfg.APIKey == "" || s == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.cfg.APIKey, "[redacted]")
	return strings.ReplaceAll(s, c.keyOnWire, "[redacted]")
}

// redactCharge and redactRefund remove the API key from the texts of an
// answer the client may quote in a reason (redact): error, error_state,
// state, transaction, acquirer_message.
func (c *Client) redactCharge(ch *charge) {
	for _, f := range []*string{&ch.Error, &ch.ErrorState, &ch.State, &ch.Transaction} {
		*f = c.redact(*f)
	}
}

func (c *Client) redactRefund(rf *refund) {
	for _, f := range []*string{&rf.Error, &rf.ErrorState, &rf.State, &rf.Transaction, &rf.AcquirerMessage} {
		*f = c.redact(*f)
	}
}

// decodeCharge and decodeRefund parse a 200 charge (refund) answer with
// its texts redacted (redactCharge, redactRefund) before any of them is
// quoted.
func (c *Client) decodeCharge(r reply) (charge, error) {
	var ch charge
	if err := decode(r, &ch); err != nil {
		return charge{}, err
	}
	c.redactCharge(&ch)
	return ch, nil
}

func (c *Client) decodeRefund(r reply) (refund, error) {
	var rf refund
	if err := decode(r, &rf); err != nil {
		return refund{}, err
	}
	c.redactRefund(&rf)
	return rf, nil
}

// decode parses a 200 JSON answer into v.
func decode(r reply, v any) error {
	if err := providers.UnmarshalReply(r.body, v); err != nil {
		return fmt.Errorf("unparseable reply (%d bytes): %w", len(r.body), err)
	}
	return nil
}

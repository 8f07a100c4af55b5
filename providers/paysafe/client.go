// Package paysafe is settlement-worker's client of Paysafe's Card Payments
// API. It implements providers.Provider, providers.Reconciler and
// providers.Poller:
//
//	ConfirmFunds  GET  {BaseURL}/cardpayments/v1/accounts/{account}/auths/{authId}
//	Settle debit  POST {BaseURL}/cardpayments/v1/accounts/{account}/auths/{authId}/settlements
//	Settle credit POST {BaseURL}/cardpayments/v1/accounts/{account}/settlements/{settlementId}/refunds
//	Poll          GET  {BaseURL}/cardpayments/v1/accounts/{account}/settlements/{id}   (refunds/{id})
//	Reconcile     GET  {BaseURL}/cardpayments/v1/accounts/{account}/settlements?merchantRefNum=  (refunds?...)
//
// with HTTP basic authentication (the API key's user name and password).
// The request's requestId is the merchantRefNum, sent with dupCheck so
// that Paysafe refuses a second transaction with it (error 5031) instead
// of taking the money twice; after an uncertain attempt the pipeline calls
// Reconcile, which finds the earlier transaction by merchantRefNum.
//
// Paysafe answers a settlement PENDING until its end-of-day batch (seed
// 001): Settle then returns providers.Pending with RecheckAfter, and Poll
// re-reads the settlement by the id recorded in Refs. Errors are classified
// by ErrorClasses and StatusClasses. Neither the credentials nor the
// payment account number ever appear in an error.
package paysafe

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Name is the provider's routing name.
const Name = "paysafe"

// Request message headers the client reads.
const (
	// HeaderAuthorizationID is the Paysafe authorization id a debit settles
	// (fallback: PaymentSettlementRequest/AuthorizationResponseCode).
	HeaderAuthorizationID = "authorization_id"
	// HeaderSettlementID is the Paysafe settlement id a credit refunds
	// (fallback: PaymentSettlementRequest/ReferenceTransactionId).
	HeaderSettlementID = "settlement_id"
)

// Refs keys the client records (ConfirmResult.Refs and Outcome.Refs) and
// reads back in Poll and Reconcile.
const (
	// RefKind is "settlement" (debits) or "refund" (credits).
	RefKind = "paysafe_kind"
	// RefAccountID is the Paysafe account number used, so that a poll uses
	// the same account even if the configuration changes meanwhile.
	RefAccountID = "paysafe_account_id"
	// RefAuthorizationID is the authorization a debit settles.
	RefAuthorizationID = "paysafe_authorization_id"
	// RefSettlementID is the id of the settlement a debit created.
	RefSettlementID = "paysafe_settlement_id"
	// RefRefundID is the id of the refund a credit created.
	RefRefundID = "paysafe_refund_id"
	// RefRefundedSettlementID is the settlement a credit refunds.
	RefRefundedSettlementID = "paysafe_refunded_settlement_id"
	// RefStatus is the last Paysafe status seen.
	RefStatus = "paysafe_status"
	// refAwaitingBatch marks a refund refused with 3404 (settlement not
	// batched yet): Poll asks for the refund again.
	refAwaitingBatch = "paysafe_refund_awaiting_batch"
)

// Kinds of Paysafe transactions (values of RefKind).
const (
	KindSettlement = "settlement"
	KindRefund     = "refund"
)

// apiRoot is the Card Payments API path below BaseURL.
const apiRoot = "/cardpayments/v1/accounts/"

// maxReplyBytes bounds how much of a reply is read.
const maxReplyBytes = 1 << 20

// Client calls Paysafe. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
}

var (
	_ providers.Provider   = (*Client)(nil)
	_ providers.Reconciler = (*Client)(nil)
	_ providers.Poller     = (*Client)(nil)
	_ providers.Preparer   = (*Client)(nil)
)

// Prepare records, before a credit's first refund call, the Paysafe
// account it is sent to (the debit's ConfirmFunds records it for the
// settle): every later call, lookup and poll of the settlement uses that
// account, whatever PAYSAFE_ACCOUNTS says by then.
func (c *Client) Prepare(_ context.Context, req *providers.Request) (map[string]string, error) {
	acct, err := c.recordedAccount(req)
	if err != nil {
		return nil, err
	}
	return map[string]string{RefAccountID: acct}, nil
}

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

// Name returns "paysafe".
func (c *Client) Name() string { return Name }

// reply is an HTTP answer read in full.
type reply struct {
	status     int
	body       []byte
	headerCode string
}

// ok reports a 2xx answer.
func (r reply) ok() bool { return r.status/100 == 2 }

// errorCode returns Paysafe's error code (body, else the
// X-Application-Status-Code header) and message.
func (r reply) errorCode() (code, msg string) {
	var e errorReply
	if providers.UnmarshalReply(r.body, &e) == nil && e.Error != nil {
		code, msg = e.Error.Code, e.Error.Message
	}
	if code == "" {
		code = r.headerCode
	}
	return strings.TrimSpace(code), msg
}

// path builds apiRoot + account + the escaped segments.
func path(account string, segments ...string) string {
	p := apiRoot + url.PathEscape(account)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// do sends one request with basic authentication, bounded by cfg.Timeout.
// Transport failures and timeouts come back as transient errors.
func (c *Client) do(ctx context.Context, op, method, p string, query url.Values, in any) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return reply{}, fmt.Errorf("paysafe %s: encoding the request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.cfg.BaseURL + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return reply{}, fmt.Errorf("paysafe %s: building the request: %w", op, providers.WithoutURL(err))
	}
	hr.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	hr.Header.Set("Accept", "application/json")
	if in != nil {
		hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
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
	return reply{status: resp.StatusCode, body: data, headerCode: resp.Header.Get("X-Application-Status-Code")}, nil
}

// transportError classifies a failed exchange as transient. The
// underlying error is dropped: a url.Error repeats the URL, which is
// harmless, but nothing from the exchange is worth the risk of echoing.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		// Nothing listened: the call cannot have reached Paysafe.
		return providers.NotSentError("", "paysafe "+op+": connection refused (the call did not reach Paysafe)", nil)
	}
	reason := "paysafe " + op + ": the request failed before an answer (connection error); the next attempt looks the transaction up by merchantRefNum first"
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = fmt.Sprintf("paysafe %s: no answer within %s (timeout; the request may have reached Paysafe, so the next attempt looks it up by merchantRefNum first)", op, c.cfg.Timeout)
	}
	return providers.TransientError("", reason, nil)
}

// decode parses a 2xx reply into v; an unparseable one is transient.
func decode(op string, r reply, v any) error {
	if err := providers.UnmarshalReply(r.body, v); err != nil {
		return providers.TransientError("", fmt.Sprintf("paysafe %s: HTTP %d with an unparseable reply (%d bytes%s)", op, r.status, len(r.body), providers.NotJSONTextDetail(err)), nil)
	}
	return nil
}

// secrets are the values no error may contain: the credentials as
// configured and as they travel, in the Authorization header's base64 of
// user:password (a proxy echoing the request's headers echoes that form;
// unpadded, so that an echo with or without its '=' is found).
func (c *Client) secrets(req *providers.Request) []string {
	s := []string{c.cfg.Password, c.cfg.Username}
	if c.cfg.Password != "" {
		s = append(s, base64.RawStdEncoding.EncodeToString([]byte(c.cfg.Username+":"+c.cfg.Password)))
	}
	if req != nil && req.Message != nil && req.Message.PaymentContext != nil {
		s = append(s, req.Message.PaymentContext.PaymentAccountUniqueID.Value)
	}
	return s
}

// redact replaces every secret found in s with [redacted], then masks
// every other card number in it (messages.MaskPANs): callers cut the
// result, and a cut card number is no longer recognized.
func redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return messages.MaskPANs(s)
}

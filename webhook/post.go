package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/redact"
	"github.com/settlement-worker/settlement-worker/messages"
)

// HeaderIdempotencyKey carries a key derived from the batch's message ids:
// a webhook that stores it can drop a batch it already processed (a POST
// answered 2xx whose ack was lost is sent again after a restart).
const HeaderIdempotencyKey = "Idempotency-Key"

// post sends one PaymentSettlementStatusList. Only a 2xx answer whose body
// is not a Fault is a delivery; timeouts, connection errors, 3xx, 4xx and 5xx are failures
// (a 4xx too: statuses must not be dropped because the receiver refused
// them; an operator fixes the receiver while the batch waits).
//
// The POST runs on a context detached from ctx and bounded by HTTPTimeout,
// so that Close lets an attempt in flight finish and its batch be acked.
func (d *Deliverer) post(ctx context.Context, body []byte, key string) (err error) {
	defer func() { d.target.record(err) }()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	req.Header.Set(HeaderIdempotencyKey, key)
	switch d.cfg.AuthMode {
	case AuthBasic:
		req.SetBasicAuth(d.cfg.Username, d.cfg.Password)
	case AuthHeaders:
		req.Header.Set(d.cfg.UsernameHeader, d.cfg.Username)
		req.Header.Set(d.cfg.PasswordHeader, d.cfg.Password)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		// net/http's *url.Error names the whole URL, query included:
		// only its cause is kept, under the redacted URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		// A transport error may quote what the webhook sent (a malformed
		// status line): masked, as the answer below.
		return maskedError{fmt.Errorf("POST %s: %w", redact.URL(d.cfg.URL), err), d.hideCredentials}
	}
	defer resp.Body.Close()
	// The deadline ends the body's reading too, except a 101's: net/http
	// hands its connection over as the body, which then only a Close ends.
	stop := context.AfterFunc(pctx, func() { _ = resp.Body.Close() })
	defer stop()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The statuses POSTed carry the payment account, which a refusal
		// may quote: the status line is masked and bounded, as it is
		// logged at each retry and shown by TargetErr (/readyz).
		return fmt.Errorf("POST %s: %w: %s", redact.URL(d.cfg.URL), errStatus, maskedCut(d.hideCredentials(resp.Status), maxAnswerStatus))
	}
	// A receiver in Radial's style may answer its failure as a Fault with
	// a 2xx: it applied nothing, so the batch is not delivered (only the
	// Fault's Code is quoted, masked and bounded like the status line).
	if code, ok := faultCode(answer); ok {
		return fmt.Errorf("POST %s: %w (Code %q)", redact.URL(d.cfg.URL), errFault, maskedCut(d.hideCredentials(code), maxAnswerStatus))
	}
	return nil
}

// maxAnswerStatus bounds the webhook's status line quoted in an error.
const maxAnswerStatus = 200

// hideCredentials replaces the webhook's credentials in s, a text of its
// answer, by redact.Mask: a receiver (or a proxy before it) refusing a
// POST may echo what it was sent, the password as configured or, in basic
// mode, as it travels — the base64 of user:password (unpadded here, so
// that an echo with or without its '=' is found).
func (d *Deliverer) hideCredentials(s string) string {
	if d.cfg.Password == "" {
		return s
	}
	s = strings.ReplaceAll(s, base64.RawStdEncoding.EncodeToString([]byte(d.cfg.Username+":"+d.cfg.Password)), redact.Mask)
	return strings.ReplaceAll(s, d.cfg.Password, redact.Mask)
}

// maskedError is err with the webhook's credentials (hide) and the card
// numbers of its text masked.
type maskedError struct {
	err  error
	hide func(string) string
}

func (e maskedError) Error() string { return messages.MaskPANs(e.hide(e.err.Error())) }
func (e maskedError) Unwrap() error { return e.err }

// targetState is the outcome of the last POST, for readiness.
type targetState struct {
	mu   sync.Mutex
	err  error
	when time.Time
}

func (t *targetState) record(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.err, t.when = err, time.Now()
}

// TargetErr reports the webhook target as down while its last POST failed
// (nil before the first POST and after a success).
func (d *Deliverer) TargetErr() error {
	d.target.mu.Lock()
	defer d.target.mu.Unlock()
	if d.target.err == nil {
		return nil
	}
	return fmt.Errorf("last POST failed at %s: %w", d.target.when.UTC().Format(time.RFC3339), d.target.err)
}

// Package providers defines what the settlement pipeline needs from a payment
// provider, and how provider errors are classified.
//
// The pipeline (package handlers) owns durability and idempotency: it records
// every state transition before and after calling a provider. A provider client
// only translates one call into the provider's API and back, and says whether a
// failure is worth retrying.
//
// Five providers with different models fit this interface:
//
//	Radial   ConfirmFunds + settlement create; Settle answers Accepted and the
//	         verdict arrives later on Radial's status queue. Idempotent by
//	         requestId, so a crash is recovered by calling Settle again.
//	Paysafe  Settle may answer Pending; Poller re-checks later (a refund
//	         refused until its settlement's batch: Resubmit). Reconciler looks
//	         the settlement up by merchantRefNum before any new attempt.
//	Frisbii  Idempotent by key; Settle is simply repeated.
//	Miva     No idempotency key: Reconciler re-reads the payment list.
//
// Each provider package exports one Registration: its configuration
// Section (read by package config under its EnvPrefix), its Facts (what
// keeps money safe with it) and its client; package all lists them. The
// generic packages never name a provider.
package providers

import (
	"context"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
)

// Request is one settlement as a provider sees it.
type Request struct {
	// Provider is the provider's name (radial, paysafe, ...).
	Provider string
	// RequestID is the PaymentSettlementRequest requestId: the idempotency key
	// sent to providers that accept one.
	RequestID string
	// StoreID and TenderType come from the message headers.
	StoreID    string
	TenderType string
	// OrderID is PaymentContext/OrderId or PaymentContextBase/OrderId.
	OrderID string
	// Type is messages.SettlementDebit or messages.SettlementCredit.
	Type string
	// Amount is the amount to debit or credit.
	Amount money.Money
	// AuthorizationAmount is the original authorization amount used for
	// ConfirmFunds (header original_authorization_amount, else Amount).
	AuthorizationAmount money.Money
	// Attempt counts deliveries of this request that reached the pipeline (1 first).
	Attempt int
	// Headers holds the request message's headers (authorization_id, ...).
	Headers map[string]string
	// Message is the parsed request.
	Message *messages.PaymentSettlementRequest
	// Refs are provider references recorded by earlier steps of this request
	// (for example a chosen payment record or a settlement id). Providers may
	// return more in ConfirmResult.Refs and Outcome.Refs; the pipeline stores
	// them durably before the next step.
	Refs map[string]string
	// Claimed are the provider references (provider_ref) already attributed
	// to OTHER settlements of the same order. Set for Reconcile: a provider
	// without idempotency keys (Miva) must not take another settlement's
	// capture of the same amount for this request's.
	Claimed []string
}

// ConfirmResult answers ConfirmFunds.
type ConfirmResult struct {
	// Available is true when the authorization covers the debit.
	Available bool
	// Reason explains a refusal in words a person can act on.
	Reason string
	// Refs are references to keep (e.g. the authorization chosen), also
	// when ConfirmFunds returns an error (e.g. the requestId its retry
	// must send).
	Refs map[string]string
}

// Kind is the kind of a settlement outcome.
type Kind string

const (
	// Settled: the money moved; the request ends with status S.
	Settled Kind = "settled"
	// Refused: the provider declined; the request ends with status R.
	Refused Kind = "refused"
	// Accepted: the provider took the request and will report the verdict
	// asynchronously (Radial's status queue). It must never be submitted again.
	Accepted Kind = "accepted"
	// Pending: created but not final; the pipeline re-checks via Poller
	// after RecheckAfter.
	Pending Kind = "pending"
	// Resubmit is a Poll's answer only (never Settle's nor Reconcile's):
	// the provider holds nothing of the request, which must be sent
	// again (a Paysafe refund refused until its settlement is batched).
	// The poll does not send it: a call that may move money is recorded
	// before it is made. The pipeline records it (call_sent_at, the
	// settlement back in submitting, Refs recorded with it) and calls
	// Settle as for any recorded call, so that a crash or an uncertain
	// answer is reconciled after the settle window, never sent again
	// blindly.
	Resubmit Kind = "resubmit"
)

// Outcome is the result of Settle, Reconcile or Poll.
type Outcome struct {
	Kind Kind
	// Reason is the decline reason for Refused.
	Reason string
	// Ref is the provider's reference for the settlement, if any.
	Ref string
	// Refs are further references to record.
	Refs map[string]string
	// RecheckAfter is the delay before polling a Pending outcome.
	RecheckAfter time.Duration
}

// Provider is a payment provider client.
type Provider interface {
	// Name is the provider's routing name: settlement.request.<Name>.
	Name() string
	// ConfirmFunds checks, before a debit, that the authorization can still
	// be captured. It is not called for credits. req.Refs holds what the
	// settlement's earlier confirmations returned in ConfirmResult.Refs:
	// the pipeline also records the Refs of a result returned with an
	// error, before the retry.
	ConfirmFunds(ctx context.Context, req *Request) (ConfirmResult, error)
	// Settle submits the debit or credit. It must be idempotent on
	// req.RequestID where the provider supports it.
	Settle(ctx context.Context, req *Request) (Outcome, error)
}

// Reconciler is implemented by providers for which calling Settle again after
// an uncertain attempt (a crash or timeout after the request may have reached
// the provider) is not safe or not enough. The pipeline calls Reconcile first;
// found=false means the earlier attempt left no trace and Settle may run.
type Reconciler interface {
	Reconcile(ctx context.Context, req *Request) (out Outcome, found bool, err error)
}

// Poller is implemented by providers whose Settle may answer Pending.
// Poll reads the provider's record of the request, or repeats, under its
// idempotency key, a call the provider already answered (its record
// exists: Frisbii's repeat answers that record). It never makes a call
// that may move money anew: when the provider holds nothing and the
// request must be sent again, it answers Resubmit, and the pipeline
// records that call before it calls Settle.
type Poller interface {
	Poll(ctx context.Context, req *Request) (Outcome, error)
}

// Preparer is implemented by providers that must record references before a
// submission that ConfirmFunds does not precede (a credit): the pipeline
// calls Prepare and stores its refs in the same transition that announces the
// submission, so that Reconcile has a baseline after a crash (Miva's payment
// records before a refund).
type Preparer interface {
	Prepare(ctx context.Context, req *Request) (map[string]string, error)
}

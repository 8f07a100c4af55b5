package paysafe

import (
	"fmt"

	"github.com/settlement-worker/settlement-worker/providers"
)

// outcome maps a settlement or refund to the pipeline's outcome:
//
//	RECEIVED, PENDING, PROCESSING  Pending (re-checked after RecheckAfter)
//	COMPLETED                      Settled
//	FAILED, CANCELLED              Refused, with a reason
//
// Any other status or a reply without an id is a transient error: the
// money may be moving, so the request must never be refused on it; it is
// retried, then parked for an operator. So is a transaction without a
// merchantRefNum: Paysafe's settlements and refunds always carry the one
// they were created with (seed 001), so such an answer (a gateway, a stub
// at a wrong PAYSAFE_BASE_URL, a cache) is not Paysafe's word on this
// request, and its status must make no verdict; the next attempt looks the
// request up by merchantRefNum first. A transaction whose merchantRefNum
// or amount is not the request's is Unresolved: money may have moved but
// not as this request asked, so it is parked for a person at once.
func (c *Client) outcome(t target, tx transaction) (providers.Outcome, error) {
	if tx.ID == "" {
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf("paysafe %s: the reply has no id (status %q)", t.kind, t.quoted(tx.Status)), nil)
	}
	if tx.MerchantRefNum == "" {
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
			"paysafe %s: the reply's %s %s has no merchantRefNum (Paysafe's always carry theirs): not Paysafe's answer on merchantRefNum %s "+
				"(a gateway or a stub at a wrong PAYSAFE_BASE_URL?); retried, then parked, never read as a verdict",
			t.kind, t.kind, t.quoted(tx.ID), t.merchantRefNum), nil)
	}
	if tx.MerchantRefNum != t.merchantRefNum {
		return providers.Outcome{}, providers.UnresolvedError("", fmt.Sprintf(
			"paysafe %s %s has merchantRefNum %q, this request %q; investigate before replaying",
			t.kind, t.quoted(tx.ID), providers.Quoted(redact(tx.MerchantRefNum, t.secrets...)), t.merchantRefNum), nil)
	}
	if tx.Amount != t.amount {
		return providers.Outcome{}, providers.UnresolvedError("", fmt.Sprintf(
			"paysafe %s %s (merchantRefNum %s) is for %s but this request is for %s; it was not submitted again: investigate at Paysafe",
			t.kind, t.quoted(tx.ID), t.merchantRefNum, t.format(tx.Amount), t.format(t.amount)), nil)
	}
	refs := map[string]string{RefKind: t.kind, RefAccountID: t.account, RefStatus: tx.Status}
	if t.kind == KindRefund {
		refs[RefRefundID] = tx.ID
		if t.parent != "" {
			refs[RefRefundedSettlementID] = t.parent
		}
	} else {
		refs[RefSettlementID] = tx.ID
		if t.parent != "" {
			refs[RefAuthorizationID] = t.parent
		}
	}
	out := providers.Outcome{Ref: tx.ID, Refs: refs}
	switch tx.Status {
	case StatusReceived, StatusPending, StatusProcessing:
		out.Kind, out.RecheckAfter = providers.Pending, c.cfg.RecheckAfter
	case StatusCompleted:
		out.Kind = providers.Settled
	case StatusFailed:
		out.Kind, out.Reason = providers.Refused, failedReason(t, tx)
	case StatusCancelled:
		out.Kind = providers.Refused
		out.Reason = fmt.Sprintf("Paysafe settlement %s was CANCELLED before it was batched; the customer was not charged", t.quoted(tx.ID))
		if t.kind == KindRefund {
			out.Reason = fmt.Sprintf("Paysafe refund %s was CANCELLED; no money was returned", t.quoted(tx.ID))
		}
	default:
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf("paysafe %s %s has an unknown status %q", t.kind, t.quoted(tx.ID), t.quoted(tx.Status)), nil)
	}
	return out, nil
}

// quoted is a field of Paysafe's answer (an id, a status, an error code)
// ready for a reason: its secrets masked, then cut to
// providers.MaxQuotedCode bytes. A reason becomes an R's DeclineReason
// (published, POSTed to the webhook) or is logged at every attempt, and
// an answer may be up to a MiB.
func (t target) quoted(s string) string {
	return providers.QuotedCode(redact(s, t.secrets...))
}

// failedReason explains a FAILED transaction with Paysafe's error, if any,
// its secrets masked before the message is cut (a cut secret is no longer
// found whole).
func failedReason(t target, tx transaction) string {
	reason := fmt.Sprintf("Paysafe %s %s FAILED", t.kind, t.quoted(tx.ID))
	if tx.Error != nil && (tx.Error.Code != "" || tx.Error.Message != "") {
		reason += ": " + providers.Quoted(redact(tx.Error.Message, t.secrets...))
		if tx.Error.Code != "" {
			reason += " (error " + t.quoted(tx.Error.Code) + ")"
		}
	}
	return redact(reason, t.secrets...)
}

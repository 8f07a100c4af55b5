package miva

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Reconcile decides, before any new submission, whether an earlier attempt
// whose outcome is unknown (a crash, a timeout, a lost reply) already
// captured or refunded. Miva keeps no idempotency key, so the only
// evidence is the order's payment list, compared with the baseline the
// client recorded (RefRecordsBefore):
//
//   - a record created since the baseline, of the settlement's kind
//     (capture: type 2 or 4; refund: type 6) and of exactly its amount →
//     found, Settled, Ref = that record;
//   - debit only: the authorization's available fell by at least the
//     amount since RefAvailableBefore, beyond what new voids and other new
//     captures explain → found, Settled (no record to name);
//   - otherwise found=false: nothing happened, Settle may run.
//
// Without a baseline (a credit: the pipeline calls ConfirmFunds, and so
// records refs, for debits only, unless it records Prepare's refs):
// no record of that kind and amount on the order → found=false; one or
// more → the client cannot tell this request's refund from an older one of
// the same amount, and neither refunding again nor reporting S is safe:
// Reconcile returns a transient error naming the records, so the request
// is retried, then parked for a person to check in the Miva admin.
//
// Residual ambiguity: a capture or refund of the same amount made on the
// same order by someone else (a person in the Miva admin) between the
// baseline and Reconcile is taken for this request's.
func (c *Client) Reconcile(ctx context.Context, req *providers.Request) (providers.Outcome, bool, error) {
	oid, err := orderIDOf(req)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	amount, _, err := amountOf(req)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	want, key, what := isNewCapture, RefCaptureID, "capture"
	switch req.Type {
	case messages.SettlementDebit:
	case messages.SettlementCredit:
		want, key, what = func(t int) bool { return t == TypeRefund }, RefRefundID, "refund"
	default:
		return providers.Outcome{}, false, providers.Permanentf("settlement type %q is not Debit or Credit", req.Type)
	}
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10)}
	if v := req.Refs[RefPaymentID]; v != "" {
		refs[RefPaymentID] = v
	}
	settled := func(id int64, by string) (providers.Outcome, bool, error) {
		refs[RefReconciledBy] = by
		out := providers.Outcome{Kind: providers.Settled, Refs: refs}
		if id != 0 {
			out.Ref = strconv.FormatInt(id, 10)
			refs[key] = out.Ref
		}
		return out, true, nil
	}

	before, hasBaseline := parseIDList(req.Refs)
	if !hasBaseline {
		matches := newRecords(ps, nil, want, amount)
		if len(matches) == 0 {
			return providers.Outcome{}, false, nil
		}
		ids := make([]string, len(matches))
		for i, p := range matches {
			ids[i] = strconv.FormatInt(p.ID, 10)
		}
		return providers.Outcome{}, false, providers.TransientError("", fmt.Sprintf(
			"miva reconcile: order %d already has %s record(s) %s of %s and no baseline was recorded, so it cannot be told whether this request's earlier attempt made one; "+
				"check the order in the Miva admin, then settle the request by hand (Miva has no idempotency key; the worker will not %s again)",
			oid, what, strings.Join(ids, ", "), fmtAmount(req, amount), what), nil)
	}
	// Records the worker already attributed to other settlements of this
	// order (a same-amount capture made while this request waited to retry)
	// are not this request's.
	for _, r := range newRecords(ps, before, want, amount) {
		if !slices.Contains(req.Claimed, strconv.FormatInt(r.ID, 10)) {
			return settled(r.ID, "new_record")
		}
	}
	if req.Type == messages.SettlementDebit && availableFell(ps, req.Refs, before, amount) {
		return settled(0, "available_decrease")
	}
	return providers.Outcome{}, false, nil
}

// availableFell reports whether the authorization recorded in refs lost at
// least amount of its available since the baseline, beyond what records
// created since then (voids, captures of other amounts) explain.
func availableFell(ps []Payment, refs map[string]string, before map[int64]bool, amount decimal.Decimal) bool {
	pid, ok := refID(refs, RefPaymentID)
	if !ok {
		return false
	}
	was, err := decimal.NewFromString(strings.TrimSpace(refs[RefAvailableBefore]))
	if err != nil {
		return false
	}
	auth, ok := find(ps, pid)
	if !ok {
		return false
	}
	fell := was.Sub(auth.Available)
	for _, p := range ps {
		if !before[p.ID] && (p.Type == TypeVoid || isNewCapture(p.Type)) {
			fell = fell.Sub(p.Amount)
		}
	}
	return fell.GreaterThanOrEqual(amount)
}

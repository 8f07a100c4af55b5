package miva

import (
	"cmp"
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
// client recorded (RefRecordsBefore) and with the records the pipeline
// already attributed to other settlements of the same order (req.Claimed;
// record ids are only compared within this Miva order's payment list):
//
//   - candidates are the records created since the baseline, of the
//     settlement's kind (capture: type 2 or 4; refund: type 6), of exactly
//     its amount, and not claimed by another settlement;
//   - exactly one candidate → found, Settled, Ref = that record;
//   - several candidates → the client cannot tell which is this request's:
//     Unresolved ("order N is ambiguous: ..."), parked for a person;
//   - none, but (debit only) the authorizations that covered the amount
//     (RefAuthsBefore: Settle may have captured another than the one
//     ConfirmFunds chose) lost at least the amount of their available
//     since the baseline, beyond what new voids and other new captures
//     explain (availableFell) → money moved with no record to name:
//     Unresolved, never Settled (reporting S without a record would let two
//     settlements of the same amount both claim one capture);
//   - otherwise found=false: nothing happened (once the settle window has
//     passed; the pipeline parks a non-idempotent provider's request then).
//
// Without a baseline (a credit whose Prepare refs were not recorded): no
// unclaimed record of that kind and amount on the order → found=false; one
// or more → the client cannot tell this request's refund from an older one
// of the same amount, and neither refunding again nor reporting S is safe:
// Unresolved, naming the records, parked at once for a person to check in
// the Miva admin.
//
// Residual ambiguity: a capture or refund of the same amount made on the
// same order by someone else (a person in the Miva admin) between the
// baseline and Reconcile, while this request's attempt made none, is taken
// for this request's.
func (c *Client) Reconcile(ctx context.Context, req *providers.Request) (providers.Outcome, bool, error) {
	oid, err := orderIDOf(req)
	if err != nil {
		// Reconcile follows a call that may have moved money: an order id
		// refused now (a spelling recorded before it was refused) is never
		// a refusal of that money.
		return providers.Outcome{}, false, providers.UnresolvedError("", "miva reconcile: "+providers.ReasonOf(err)+
			"; whether an earlier call moved money cannot be reconciled: check the order in the Miva admin, then settle the request by hand", err)
	}
	amount, _, err := c.amountOf(req)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	want, key, what := isNewCapture, RefCaptureID, "capture"
	switch req.Type {
	case messages.SettlementDebit:
	case messages.SettlementCredit:
		want, key, what = isNewRefund, RefRefundID, "refund"
	default:
		return providers.Outcome{}, false, providers.Permanentf("settlement type %q is not Debit or Credit", req.Type)
	}
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return providers.Outcome{}, false, unresolvedRead(err)
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10)}
	if v := req.Refs[RefPaymentID]; v != "" {
		refs[RefPaymentID] = v
	}
	amt := fmtAmount(req, amount)
	claimed := "none"
	if len(req.Claimed) > 0 {
		claimed = namedIDs(req.Claimed)
	}
	taken := claimedSet(req)
	// unclaimed drops the records attributed to other settlements.
	unclaimed := func(rs []Payment) (out []Payment, ids []string) {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b Payment) int { return cmp.Compare(a.ID, b.ID) })
		for _, r := range rs {
			id := strconv.FormatInt(r.ID, 10)
			if !taken[id] {
				out = append(out, r)
				ids = append(ids, id)
			}
		}
		return out, ids
	}
	unresolved := func(detail string) (providers.Outcome, bool, error) {
		return providers.Outcome{}, false, providers.UnresolvedError("", fmt.Sprintf(
			"miva reconcile: order %d is ambiguous: %s (%s of %s; records claimed by other settlements: %s); "+
				"check the order in the Miva admin, then settle the request by hand (Miva has no idempotency key; the worker will not %s again)",
			oid, detail, what, amt, claimed, what), nil)
	}

	before, hasBaseline := parseIDList(req.Refs)
	if !hasBaseline {
		_, ids := unclaimed(newRecords(ps, nil, want, amount))
		if len(ids) == 0 {
			return providers.Outcome{}, false, nil
		}
		return unresolved(fmt.Sprintf("order %d already has %s record(s) %s of %s and no baseline was recorded, so it cannot be told whether this request's earlier attempt made one",
			oid, what, namedIDs(ids), amt))
	}
	cands, ids := unclaimed(newRecords(ps, before, want, amount))
	switch {
	case len(cands) == 1:
		refs[RefReconciledBy] = "new_record"
		ref := strconv.FormatInt(cands[0].ID, 10)
		refs[key] = ref
		return providers.Outcome{Kind: providers.Settled, Ref: ref, Refs: refs}, true, nil
	case len(cands) > 1:
		return unresolved(fmt.Sprintf("records %s are all new unclaimed %ss of the amount since the baseline, and it cannot be told which one is this request's", namedIDs(ids), what))
	}
	if req.Type == messages.SettlementDebit {
		if fell, auths, ok := availableFell(ps, req.Refs, before, amount); ok {
			return unresolved(fmt.Sprintf("authorization record(s) %s lost %s of their available since the baseline beyond what new capture and void records show, but no new unclaimed capture record of the amount shows it",
				namedIDs(auths), fmtAmount(req, fell)))
		}
	}
	return providers.Outcome{}, false, nil
}

// availableFell reports whether the order's authorizations lost at least
// amount of their available since the baseline, beyond what records
// created since then (voids, captures of other amounts) explain: fell is
// that unexplained loss, auths the authorizations that lost some.
//
// The baseline is RefAuthsBefore, the available at confirmation of every
// authorization that covered the amount, because Settle may have captured
// another authorization than RefPaymentID (when Miva refused that one as
// beyond its available or expired); an authorization created since that
// could cover it counts from its amount (types 1 and 3: nothing captured
// at creation). A baseline authorization gone from the list counts as
// fully fallen (it cannot be checked). References recorded before
// RefAuthsBefore existed watch RefPaymentID alone, from RefAvailableBefore.
func availableFell(ps []Payment, refs map[string]string, before map[int64]bool, amount decimal.Decimal) (decimal.Decimal, []string, bool) {
	was, ok := parseAuthsList(refs)
	if !ok {
		pid, ok := refID(refs, RefPaymentID)
		if !ok {
			return decimal.Zero, nil, false
		}
		d, err := decimal.NewFromString(strings.TrimSpace(refs[RefAvailableBefore]))
		if err != nil {
			return decimal.Zero, nil, false
		}
		was = map[int64]decimal.Decimal{pid: d}
	}
	fell := decimal.Zero
	var auths []string
	lost := func(id int64, d decimal.Decimal) {
		if d.IsPositive() {
			fell = fell.Add(d)
			auths = append(auths, strconv.FormatInt(id, 10))
		}
	}
	ids := make([]int64, 0, len(was))
	for id := range was {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		now := decimal.Zero
		if p, ok := find(ps, id); ok {
			now = p.Available
		}
		lost(id, was[id].Sub(now))
	}
	for _, p := range ps {
		switch {
		case before[p.ID]:
		case p.Type == TypeLegacyAuth || p.Type == TypeAuth:
			if !p.Amount.LessThan(amount) {
				lost(p.ID, p.Amount.Sub(p.Available))
			}
		case p.Type == TypeVoid || isNewCapture(p.Type):
			fell = fell.Sub(p.Amount)
		}
	}
	return fell, auths, len(auths) > 0 && fell.GreaterThanOrEqual(amount)
}

// unresolvedRead classifies a failed payment-list read of Reconcile. The
// read follows a call that may have moved money, so an error Miva's codes
// make permanent (invalid_request, order_not_found, …) must not end the
// request R: it is Unresolved, parked for a person. A transient one stays
// transient (read again later).
func unresolvedRead(err error) error {
	if providers.ClassOf(err) != providers.Permanent {
		return err
	}
	return providers.UnresolvedError("", "Miva refused the payment-list read that reconciles an earlier call ("+
		providers.ReasonOf(err)+"): whether that call moved money is not known; check the order in the Miva admin", err)
}

// namedIDs writes record ids for a reason: the first maxDescribed,
// comma-separated, then how many more ("and 19990 more"). A reason is
// logged at every attempt, stored and shown to the person who must decide;
// an order's list, read up to 4 MiB, could hold tens of thousands of
// records, and the records other settlements claimed as many.
func namedIDs(ids []string) string {
	if len(ids) <= maxDescribed {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:maxDescribed], ", ") + fmt.Sprintf(" and %d more", len(ids)-maxDescribed)
}

// claimedSet is req.Claimed as a set (one lookup per record, not a scan of
// every claimed reference).
func claimedSet(req *providers.Request) map[string]bool {
	set := make(map[string]bool, len(req.Claimed))
	for _, id := range req.Claimed {
		set[id] = true
	}
	return set
}

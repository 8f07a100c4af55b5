package miva

import (
	"context"
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/providers"
)

// ConfirmFunds reads the order's payment records (OrderPaymentList_Load)
// and chooses the authorization the debit will capture: the header
// miva_payment_id when present, else ChooseAuthorization for the
// settlement Amount (Miva's "available" is what remains capturable, so the
// debit amount is what must fit; AuthorizationAmount, Radial's re-auth
// amount, is not used). No record fits → Available=false with a reason
// listing what is available.
//
// The Refs returned are the recovery baseline, stored by the pipeline
// before Settle: RefOrderID, RefPaymentID, RefAvailableBefore,
// RefRecordsBefore (every record id of the order now) and RefAuthsBefore
// (the available now of every authorization that covers the amount:
// Settle may capture another than RefPaymentID), so that Reconcile can
// tell whether a capture happened after this point.
func (c *Client) ConfirmFunds(ctx context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	oid, err := orderIDOf(req)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	amount, _, err := c.amountOf(req)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	override, hasOverride, err := overrideID(req)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10), RefRecordsBefore: idList(ps)}
	f := func(d decimal.Decimal) string { return fmtAmount(req, d) }
	available := describe(ps, IsAuthorization, func(p Payment) decimal.Decimal { return p.Available }, "available", f)

	var chosen Payment
	if hasOverride {
		p, ok := find(ps, override)
		switch {
		case !ok:
			return notAvailable(refs, fmt.Sprintf("Miva payment record %d (header %s) is not on order %d", override, HeaderPaymentID, oid))
		case !IsAuthorization(p.Type):
			return notAvailable(refs, fmt.Sprintf("Miva payment record %d (%s, header %s) is not an authorization", override, typeName(p.Type), HeaderPaymentID))
		case p.Available.LessThan(amount):
			return notAvailable(refs, fmt.Sprintf("Miva authorization %d has %s available, less than %s", p.ID, f(p.Available), f(amount)))
		}
		chosen = p
	} else {
		p, ok := ChooseAuthorization(ps, amount, c.now())
		if !ok {
			return notAvailable(refs, fmt.Sprintf("no Miva authorization on order %d has %s available for capture (authorizations: %s)", oid, f(amount), available))
		}
		chosen = p
	}
	refs[RefPaymentID] = strconv.FormatInt(chosen.ID, 10)
	refs[RefAvailableBefore] = chosen.Available.String()
	refs[RefAuthsBefore] = authsList(ps, amount)
	return providers.ConfirmResult{Available: true, Refs: refs}, nil
}

func notAvailable(refs map[string]string, reason string) (providers.ConfirmResult, error) {
	return providers.ConfirmResult{Available: false, Reason: reason, Refs: refs}, nil
}

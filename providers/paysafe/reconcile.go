package paysafe

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Reconcile looks the request's settlement (debit) or refund (credit) up by
// merchantRefNum (GET .../settlements?merchantRefNum= or .../refunds?...)
// before any new attempt after a timeout or crash. found=true returns the
// outcome of the transaction found; found=false means no earlier attempt
// reached Paysafe (trustworthy only once the settle window has passed since
// the attempt was sent: Paysafe may commit late). An ambiguous lookup
// (several transactions with the merchantRefNum, an answer with more
// pages, or one of another amount) is Unresolved, see lookup. Lookup
// failures are transient: they never refuse a request; nor does a request
// refused now (unresolvedTarget).
func (c *Client) Reconcile(ctx context.Context, req *providers.Request) (providers.Outcome, bool, error) {
	t, err := c.baseTarget(req, c.recordedAccount)
	if err != nil {
		return providers.Outcome{}, false, unresolvedTarget(err)
	}
	t.parent = parentOf(req, t.kind)
	return c.lookup(ctx, t)
}

// unresolvedTarget classifies a request Reconcile cannot map (a currency
// PAYSAFE_CURRENCIES refuses since the call was sent): Reconcile follows a
// call that may have moved money, so a Permanent refusal of the request is
// never an R of that money: Unresolved, parked for a person.
func unresolvedTarget(err error) error {
	if providers.ClassOf(err) != providers.Permanent {
		return err
	}
	return providers.UnresolvedError("", "paysafe reconcile: "+providers.ReasonOf(err)+
		"; an earlier call of this request may have moved money: check it at Paysafe (merchantRefNum = requestId), then settle the request by hand", err)
}

// parentOf is the authorization or settlement id the request names or an
// earlier step recorded, "" when unknown (it only decorates Refs).
func parentOf(req *providers.Request, kind string) string {
	if kind == KindRefund {
		if v := req.Refs[RefRefundedSettlementID]; v != "" {
			return v
		}
		v, _ := settlementID(req)
		return v
	}
	if v := req.Refs[RefAuthorizationID]; v != "" {
		return v
	}
	v, _ := authorizationID(req)
	return v
}

// lookup finds the transaction of kind with t's merchantRefNum and trusts
// it only when it is unambiguous:
//
//   - a reply without the list of t's kind, or listing a transaction
//     without a merchantRefNum → a transient error (it says nothing sure
//     about what Paysafe holds);
//   - a reply that links a next page (the client reads one) →
//     Unresolved: several pages for one merchantRefNum are several
//     transactions with it, or an answer that cannot tell; never "none"
//     nor "this one" from the first page;
//   - none → found=false (nothing reached Paysafe, or, before the settle
//     window has passed, a late commit is not visible yet: the pipeline
//     reconciles only after the window);
//   - exactly one, of the request's amount → its outcome;
//   - several with the merchantRefNum (whatever their status), or one of
//     another amount → Unresolved: the client sends the requestId as
//     merchantRefNum with dupCheck, so Paysafe refuses a second transaction
//     with it (5031) and several can only come from a submission without
//     dupCheck (someone else, or a bug); which one is this request's money
//     cannot be told, so a person decides (never a guess, never a retry);
//     the reason gives their count and the first few (see listed).
func (c *Client) lookup(ctx context.Context, t target) (providers.Outcome, bool, error) {
	op := "lookup " + t.kind
	r, err := c.do(ctx, op, http.MethodGet, path(t.account, t.kind+"s"), url.Values{"merchantRefNum": {t.merchantRefNum}}, nil)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	if !r.ok() {
		return providers.Outcome{}, false, transient(classify(op, r, t.secrets...))
	}
	var list transactionList
	if err := decode(op, r, &list); err != nil {
		return providers.Outcome{}, false, err
	}
	txs := list.Settlements
	if t.kind == KindRefund {
		txs = list.Refunds
	}
	if txs == nil {
		// Another shape (a proxy's page, another API version) is not
		// "nothing there": read so, it would turn a refusal into an R
		// and a lost answer into a second submission.
		return providers.Outcome{}, false, providers.TransientError("", fmt.Sprintf(
			"paysafe %s: HTTP %d without a %ss list (%d bytes); what Paysafe holds under merchantRefNum %s is unknown, retrying",
			op, r.status, t.kind, len(r.body), t.merchantRefNum), nil)
	}
	var match []transaction
	for _, tx := range *txs {
		if tx.MerchantRefNum == t.merchantRefNum {
			match = append(match, tx)
		}
	}
	if list.morePages() {
		// The client reads one page. More than one page for one
		// merchantRefNum is several transactions with it (as ambiguous
		// as several on one page), or an answer that cannot tell what
		// Paysafe holds: neither is "nothing there" nor "this one".
		return providers.Outcome{}, false, providers.UnresolvedError("", fmt.Sprintf(
			"paysafe %s: the answer lists %d %s(s) with merchantRefNum %s (%s) and links a next page (rel next), which the client does not read: "+
				"several transactions carry it, or what Paysafe holds under it cannot be told; this request is for %s: "+
				"check them at Paysafe (cancel or refund the duplicates), then settle the request by hand",
			op, len(match), t.kind, t.merchantRefNum, listed(t, match), t.format(t.amount)), nil)
	}
	unnamed := 0
	for _, tx := range *txs {
		if tx.MerchantRefNum == "" {
			unnamed++
		}
	}
	if unnamed > 0 {
		// Listed by a lookup by merchantRefNum but without one: it may
		// be this request's, and dropping it as another's would read
		// as "nothing there".
		return providers.Outcome{}, false, providers.TransientError("", fmt.Sprintf(
			"paysafe %s: the lookup lists %d %s(s) without a merchantRefNum; what Paysafe holds under merchantRefNum %s is unknown, retrying",
			op, unnamed, t.kind, t.merchantRefNum), nil)
	}
	switch len(match) {
	case 0:
		return providers.Outcome{}, false, nil
	case 1:
		out, err := c.outcome(t, match[0])
		return out, err == nil, err
	}
	return providers.Outcome{}, false, providers.UnresolvedError("", fmt.Sprintf(
		"paysafe: %d %ss carry merchantRefNum %s (%s) and this request is for %s; it cannot be told which one is this request's: "+
			"check them at Paysafe (cancel or refund the duplicates), then settle the request by hand",
		len(match), t.kind, t.merchantRefNum, listed(t, match), t.format(t.amount)), nil)
}

// maxListed is how many transactions a reason names.
const maxListed = 3

// listed names the first maxListed transactions (id, status, amount) and
// counts the rest, Paysafe's text (secrets masked first) cut to
// providers.MaxQuotedCode bytes a field, providers.MaxQuoted in all: a
// reason is logged at every attempt and stored with the settlement, and a
// hostile or buggy lookup answer may list thousands, with ids of any size.
func listed(t target, txs []transaction) string {
	n := min(len(txs), maxListed)
	ds := make([]string, n)
	for i, tx := range txs[:n] {
		ds[i] = fmt.Sprintf("%s %s %s", t.quoted(tx.ID), t.quoted(tx.Status), t.format(tx.Amount))
	}
	s := providers.Quoted(strings.Join(ds, "; "))
	if rest := len(txs) - n; rest > 0 {
		s += fmt.Sprintf("; and %d more", rest)
	}
	return s
}

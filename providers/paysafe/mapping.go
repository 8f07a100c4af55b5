package paysafe

import (
	"fmt"
	"strings"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
)

// target is what one request maps to at Paysafe.
type target struct {
	// kind is KindSettlement (debit) or KindRefund (credit).
	kind string
	// account is the Paysafe account number.
	account string
	// parent is the authorization id (settlement) or the settlement id
	// (refund) the transaction draws on.
	parent string
	// merchantRefNum is the request's requestId.
	merchantRefNum string
	// amount is the amount in minor units; money is the same amount.
	amount int64
	money  money.Money
	// secrets are the values no reason may contain.
	secrets []string
}

// kindOf maps the settlement type to the kind of Paysafe transaction.
func kindOf(req *providers.Request) (string, error) {
	switch req.Type {
	case messages.SettlementDebit:
		return KindSettlement, nil
	case messages.SettlementCredit:
		return KindRefund, nil
	default:
		return "", providers.Permanentf("settlement type %q is neither Debit nor Credit", req.Type)
	}
}

// accountFor returns the Paysafe account configured for the request's store.
// A store PAYSAFE_ACCOUNTS does not name is a gap in our configuration,
// not a refusal the customer or the order caused: the request is parked
// (Unresolved), nothing sent, to be replayed once the account is set.
func (c *Client) accountFor(req *providers.Request) (string, error) {
	acct := strings.TrimSpace(c.cfg.Accounts[req.StoreID])
	if acct == "" {
		return "", providers.UnresolvedError("", fmt.Sprintf("no Paysafe account is configured for store %q (PAYSAFE_ACCOUNTS), "+
			"so nothing was sent to Paysafe: add the store's account to PAYSAFE_ACCOUNTS, restart the worker, then replay the parked request", req.StoreID), nil)
	}
	return acct, nil
}

// recordedAccount prefers the account recorded by an earlier step.
func (c *Client) recordedAccount(req *providers.Request) (string, error) {
	if a := strings.TrimSpace(req.Refs[RefAccountID]); a != "" {
		return a, nil
	}
	return c.accountFor(req)
}

// authorizationID is the header authorization_id, else
// AuthorizationResponseCode.
func authorizationID(req *providers.Request) (string, error) {
	if v := strings.TrimSpace(req.Headers[HeaderAuthorizationID]); v != "" {
		return v, nil
	}
	if req.Message != nil {
		if v := strings.TrimSpace(req.Message.AuthorizationResponseCode); v != "" {
			return v, nil
		}
	}
	return "", providers.Permanentf("no Paysafe authorization id: set the %s header or AuthorizationResponseCode", HeaderAuthorizationID)
}

// settlementID is the header settlement_id, else ReferenceTransactionId.
func settlementID(req *providers.Request) (string, error) {
	if v := strings.TrimSpace(req.Headers[HeaderSettlementID]); v != "" {
		return v, nil
	}
	if req.Message != nil {
		if v := strings.TrimSpace(req.Message.ReferenceTransactionID); v != "" {
			return v, nil
		}
	}
	return "", providers.Permanentf("no Paysafe settlement id to refund: set the %s header or ReferenceTransactionId", HeaderSettlementID)
}

// minorUnits converts the amount exactly: a fraction of a minor unit, a
// non-positive amount or one beyond Paysafe's maximum is refused, never
// rounded. A currency other than the account's (when configured) is
// refused too.
func (c *Client) minorUnits(m money.Money, account string) (int64, error) {
	if m.Currency == "" {
		return 0, providers.Permanentf("the request has no amount in a known currency")
	}
	if cur := c.cfg.Currencies[account]; cur != "" && cur != m.Currency {
		return 0, providers.Permanentf("Paysafe account %s settles in %s, the request is in %s", account, cur, m.Currency)
	}
	n, err := m.MinorUnits()
	if err != nil {
		return 0, providers.PermanentError("", err.Error(), nil)
	}
	if n <= 0 {
		return 0, providers.Permanentf("amount %s %s must be positive", m.String(), m.Currency)
	}
	if n > maxAmount {
		return 0, providers.Permanentf("amount %s %s exceeds Paysafe's maximum of %d minor units", m.String(), m.Currency, maxAmount)
	}
	return n, nil
}

// merchantRefNum is the request id, within Paysafe's length limit.
func merchantRefNum(req *providers.Request) (string, error) {
	ref := req.RequestID
	if ref == "" || len(ref) > maxMerchantRefNumLen {
		return "", providers.Permanentf("requestId must be 1 to %d characters to serve as Paysafe's merchantRefNum", maxMerchantRefNumLen)
	}
	return ref, nil
}

// target maps a request for ConfirmFunds and Settle: every field is
// required. The account is the one recorded before the first call
// (ConfirmFunds' refs for a debit, Prepare's for a credit) when there is
// one: a call sent to one account and repeated, looked up or polled in
// another after PAYSAFE_ACCOUNTS changed would miss it (a second call, or
// an R over money that moved).
func (c *Client) target(req *providers.Request) (target, error) {
	t, err := c.baseTarget(req, c.recordedAccount)
	if err != nil {
		return t, err
	}
	if t.kind == KindSettlement {
		t.parent, err = authorizationID(req)
	} else {
		t.parent, err = settlementID(req)
	}
	return t, err
}

// baseTarget maps kind, account, merchantRefNum and amount.
func (c *Client) baseTarget(req *providers.Request, account func(*providers.Request) (string, error)) (target, error) {
	var t target
	var err error
	if req == nil {
		return t, providers.Permanentf("no request")
	}
	if t.kind, err = kindOf(req); err != nil {
		return t, err
	}
	if t.account, err = account(req); err != nil {
		return t, err
	}
	if t.merchantRefNum, err = merchantRefNum(req); err != nil {
		return t, err
	}
	t.money, t.secrets = req.Amount, c.secrets(req)
	t.amount, err = c.minorUnits(req.Amount, t.account)
	return t, err
}

// format renders minor units of the target's currency ("10.00 USD").
func (t target) format(minor int64) string {
	m, err := money.FromMinor(minor, t.money.Currency)
	if err != nil {
		return fmt.Sprintf("%d minor units of %s", minor, t.money.Currency)
	}
	return m.String() + " " + m.Currency
}

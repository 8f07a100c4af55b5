package providers

import "time"

// Facts are what a provider declares about itself so that the generic
// pipeline (package handlers) and the composition root (package worker) can
// keep money safe without switching on provider names. Each provider package
// builds its Facts next to its client; a client that has Facts implements
// Declarer.
type Facts struct {
	// MoneyHeaders are the request headers, besides the generic ones
	// (store_id, tender_type, original_authorization_amount), that choose
	// what is charged (an authorization, a payment record, a charge). They
	// are part of a settlement's identity: a delivery of a known requestId
	// whose value of one of them differs from the recorded one is parked,
	// naming the header, and never reaches the provider.
	MoneyHeaders []string
	// RequireTenderType demands the tender_type header (2–4 characters).
	RequireTenderType bool
	// CallTimeout bounds each call to the provider (0: the pipeline's default).
	CallTimeout time.Duration
	// SettleWindow is how long after a call was sent the provider may still
	// commit it (longer than its processing time, and than CallTimeout). An
	// attempt whose outcome is unknown (a timeout, a lost answer, a crash)
	// is reconciled only once this window has passed since the call was
	// sent; before that, a provider's records may not show it yet.
	SettleWindow time.Duration
	// Idempotent says the provider deduplicates a repeated submission on
	// the requestId (Radial, Frisbii): after an uncertain attempt, calling
	// Settle again with the same key is safe. When false (Miva, Paysafe),
	// an uncertain attempt that Reconcile cannot find once SettleWindow has
	// passed is parked for a person, never submitted again blindly.
	Idempotent bool
	// StatusDeadline, for a provider that answers asynchronously
	// (Accepted), is how long a settlement may wait for its verdict before
	// the sweeper parks it for a person (0: no deadline).
	StatusDeadline time.Duration
	// OneStore says the client acts on one store of the provider whatever
	// a request's store_id header says (Miva: MIVA_STORE_CODE), so the
	// provider tells orders apart by OrderId alone: the pipeline then
	// locks an order, and compares the sibling settlements a
	// reconciliation must not take records from, across every store_id.
	// Otherwise the same order under two store_ids would run unserialized
	// and each settlement could take the other's record for its own.
	OneStore bool
}

// Declarer is implemented by provider clients that declare their Facts.
type Declarer interface {
	Facts() Facts
}

// FactsOf returns p's declared facts, or the zero Facts (no money headers,
// no window, not idempotent) when p declares none.
func FactsOf(p Provider) Facts {
	if d, ok := p.(Declarer); ok {
		return d.Facts()
	}
	return Facts{}
}

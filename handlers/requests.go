package handlers

import (
	"crypto/sha256"
	"sync"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// Requests hands decoded requests from a provider's settlement handler to
// its status handler in the same process. The status handler builds our
// status event from the settlement's stored request (ProviderStatus
// ourStatus); without Requests it decodes those bytes again, which was a
// third of its CPU beside the store. It is only a cache: what it returns
// is the decode of exactly the stored bytes (same digest, same content
// type), and a miss — another replica sent the request, a restart, an
// entry pushed out — decodes them as before.
//
// It also holds, once the settlement handler recorded a settlement
// acknowledged, that row (acknowledged, awaitedRow): the status answering
// the call is applied from it without looking the settlement up (issue 9:
// that read was 8.5 % of the worker's CPU under load). The row is a copy
// that may be stale by the time the status comes (the sweeper parked the
// settlement, another replica or path moved it): the status handler
// applies it only with the compare-and-set from the awaiting states and
// the parking's compare (store.Change.IfNotParked), and looks the
// settlement up on a conflict (ProviderStatus.inProcess).
//
// It holds at most max entries, the oldest dropped first: statuses that
// never come to this process (another replica took them) cannot grow it.
// An entry is taken out when used. Its zero value and nil hold nothing.
type Requests struct {
	mu    sync.Mutex
	max   int
	m     map[store.Key]decodedRequest
	order []store.Key // ring of insertion order, for dropping the oldest
	next  int
	// byCorrelation is the key of each entry holding a row, by the row's
	// correlation id (what the provider's status carries).
	byCorrelation map[string]store.Key
}

// decodedRequest is a request as its bytes decode, and what identifies
// those bytes; and the settlement's row as this process recorded it
// acknowledged, if it did.
type decodedRequest struct {
	sum         [sha256.Size]byte
	contentType string
	req         *messages.PaymentSettlementRequest
	awaited     *store.Settlement
}

// NewRequests returns a Requests that holds up to n entries (at least 1).
func NewRequests(n int) *Requests {
	n = max(n, 1)
	return &Requests{max: n, m: make(map[store.Key]decodedRequest, n), order: make([]store.Key, n),
		byCorrelation: make(map[string]store.Key, n)}
}

// slot makes room for key's entry, if it has none, dropping the oldest
// (c.mu held).
func (c *Requests) slot(key store.Key) {
	if _, ok := c.m[key]; ok {
		return
	}
	// The slot's key leaves with it (if it is still here), so every key
	// held has a slot: at most max. A key put again after it was taken
	// may be dropped early with its older slot: a miss.
	c.forget(c.order[c.next])
	c.order[c.next] = key
	c.next = (c.next + 1) % c.max
}

// forget drops key's entry and the index of its row (c.mu held).
func (c *Requests) forget(key store.Key) {
	if e, ok := c.m[key]; ok && e.awaited != nil && c.byCorrelation[e.awaited.CorrelationID] == key {
		delete(c.byCorrelation, e.awaited.CorrelationID)
	}
	delete(c.m, key)
}

// put keeps req, decoded from body delivered with contentType, for the
// settlement key. req must not be changed afterwards (the handlers copy a
// request before changing it: Settlement.settle).
func (c *Requests) put(key store.Key, body []byte, contentType string, req *messages.PaymentSettlementRequest) {
	if c == nil || c.max == 0 || req == nil {
		return
	}
	e := decodedRequest{sum: sha256.Sum256(body), contentType: contentType, req: req}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slot(key)
	c.forget(key) // a row recorded before this call is not its answer's
	c.m[key] = e
}

// acknowledged keeps s, the row the settlement handler just recorded
// acknowledged, for the status answering its call (awaitedRow). Only a
// row the status handler could apply that status to is kept: acknowledged,
// not parked, with one of our correlation ids and its request body (an
// encrypted store returns it empty when it cannot open it, where a look-up
// would fail).
func (c *Requests) acknowledged(s store.Settlement) {
	if c == nil || c.max == 0 || s.State != store.StateAcknowledged || s.ParkedReason != "" || len(s.Request) == 0 || !ownCorrelation(s) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slot(s.Key)
	e := c.m[s.Key]
	e.awaited = &s // the correlation id is the key's (ownCorrelation): its index stays right
	c.m[s.Key] = e
	c.byCorrelation[s.CorrelationID] = s.Key
}

// awaitedRow returns, and forgets, the row kept for the settlement whose
// correlation id is cc, when match accepts it; a row match refuses is
// kept (the status was not its call's answer).
func (c *Requests) awaitedRow(cc string, match func(store.Settlement) bool) (store.Settlement, bool) {
	if c == nil || c.max == 0 {
		return store.Settlement{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.byCorrelation[cc]
	if !ok {
		return store.Settlement{}, false
	}
	e := c.m[key]
	if e.awaited == nil || !match(*e.awaited) {
		return store.Settlement{}, false
	}
	row := *e.awaited
	delete(c.byCorrelation, cc)
	e.awaited = nil
	c.m[key] = e
	return row, true
}

// take returns and forgets the request kept for s, when it was decoded
// from exactly s's stored bytes and content type; nil otherwise.
func (c *Requests) take(s store.Settlement) *messages.PaymentSettlementRequest {
	if c == nil || c.max == 0 {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[s.Key]
	if ok {
		c.forget(s.Key)
	}
	c.mu.Unlock()
	if !ok || e.req == nil || e.contentType != s.ContentType || e.sum != sha256.Sum256(s.Request) {
		return nil
	}
	return e.req
}

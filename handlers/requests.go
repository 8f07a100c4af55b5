package handlers

import (
	"bytes"
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
// It also holds the settlement's row as the settlement handler recorded
// the call it makes (called: submitting), then as it recorded the call
// acknowledged (acknowledged, which replaces it): the status answering
// the call is applied from it without looking the settlement up (issue 9:
// that read was 8.5 % of the worker's CPU under load, and ~4 % still when
// only the acknowledged row was kept: with Radial answering at once, the
// status often comes before the acknowledged write commits). The row is a
// copy that may be stale by the time the status comes (the sweeper parked
// the settlement, another replica or path moved it): the status handler
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
	c.putRow(key, body, contentType, req, nil)
}

// called is put for the call the settlement handler is about to make for
// s, its row as it recorded that call (submitting): the row is kept too,
// for a status answering the call that comes before the call's answer is
// recorded (Radial may send it at once), when the status handler could
// apply it from the row (awaitable) and s's stored request is body, under
// contentType (the status's event is made from req). The row stays if
// the call fails in a way that leaves the settlement awaiting a status
// for it (a timeout, an answer that it was not sent: it may have reached
// the provider); Settlement.settle drops it otherwise (unkeep).
func (c *Requests) called(s store.Settlement, body []byte, contentType string, req *messages.PaymentSettlementRequest) {
	var row *store.Settlement
	if awaitable(s, store.StateSubmitting) && s.ContentType == contentType && bytes.Equal(s.Request, body) {
		k := kept(s)
		row = &k
	}
	c.putRow(s.Key, body, contentType, req, row)
}

// putRow is put, with row (nil: none) kept for the status.
func (c *Requests) putRow(key store.Key, body []byte, contentType string, req *messages.PaymentSettlementRequest, row *store.Settlement) {
	if c == nil || c.max == 0 || req == nil {
		return
	}
	e := decodedRequest{sum: sha256.Sum256(body), contentType: contentType, req: req, awaited: row}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slot(key)
	c.forget(key) // a row recorded before this call is not its answer's
	c.m[key] = e
	if row != nil {
		c.byCorrelation[row.CorrelationID] = key
	}
}

// awaitable reports whether s is a row the status handler could apply a
// status to, as recorded in state: not parked, with one of our correlation
// ids, and with its request body (an encrypted store returns it empty
// when it cannot open it, where a look-up would fail).
func awaitable(s store.Settlement, state store.State) bool {
	return s.State == state && s.ParkedReason == "" && len(s.Request) > 0 && ownCorrelation(s)
}

// acknowledged keeps s, the row the settlement handler just recorded
// acknowledged, for the status answering its call (awaitedRow), in place
// of the row kept when the call was recorded (called). Only a row the
// status handler could apply that status to is kept (awaitable), and
// whose request body is the one decoded in its entry: the status's event
// is made from that decoded request. A row already kept for the entry
// was checked so when the call was recorded, and no transition changes a
// settlement's request: the body is not summed again. Anything else drops
// the entry's row: the status looks the settlement up.
//
// What the status handler does not need of the row is not kept (kept):
// with requestsKept entries, a row as the store returns it (its own copy
// of the body, its headers and refs) was ~1.8 KB, 1.8 MiB in all, against
// a peak RSS target the backlog drain was already at.
func (c *Requests) acknowledged(s store.Settlement) {
	if c == nil || c.max == 0 {
		return
	}
	if !awaitable(s, store.StateAcknowledged) {
		c.unkeep(s.Key)
		return
	}
	c.mu.Lock()
	e, ok := c.m[s.Key]
	called := ok && e.awaited != nil
	c.mu.Unlock()
	var sum [sha256.Size]byte
	if !called {
		sum = sha256.Sum256(s.Request) // the status's take no longer sums it: the cost moves here
	}
	row := kept(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok = c.m[s.Key]
	if !ok || e.req == nil || e.contentType != s.ContentType || (e.awaited == nil && e.sum != sum) {
		c.unkeepLocked(s.Key)
		return // not the request decoded here (pushed out, other bytes): the status looks it up
	}
	e.awaited = &row // the correlation id is the key's (ownCorrelation): its index stays right
	c.m[s.Key] = e
	c.byCorrelation[s.CorrelationID] = s.Key
}

// unkeep drops the row kept for key, if any, and keeps its decoded
// request: the settlement no longer awaits a status for the call it was
// kept for (answered with its verdict, parked, or its answer's write
// lost), so a status would fail the row's compare-and-set before it looks
// the settlement up.
func (c *Requests) unkeep(key store.Key) {
	if c == nil || c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unkeepLocked(key)
}

// unkeepLocked is unkeep with c.mu held.
func (c *Requests) unkeepLocked(key store.Key) {
	e, ok := c.m[key]
	if !ok || e.awaited == nil {
		return
	}
	if c.byCorrelation[e.awaited.CorrelationID] == key {
		delete(c.byCorrelation, e.awaited.CorrelationID)
	}
	e.awaited = nil
	c.m[key] = e
}

// kept is what the status handler reads of a row kept for it (inProcess,
// apply, ourStatus with the entry's decoded request): its key, state,
// parking, correlation id, store, money, ClientContext and content type;
// not its body, headers, refs, fingerprint or times.
func kept(s store.Settlement) store.Settlement {
	return store.Settlement{Key: s.Key, StoreID: s.StoreID, OrderID: s.OrderID, TenderType: s.TenderType,
		SettlementType: s.SettlementType, Amount: s.Amount, Currency: s.Currency, ClientContext: s.ClientContext,
		CorrelationID: s.CorrelationID, State: s.State, Attempts: s.Attempts, ParkedReason: s.ParkedReason, ContentType: s.ContentType}
}

// awaitedRow returns, and forgets with its entry, the row kept for the
// settlement whose correlation id is cc and the request decoded for it,
// when match accepts the row; a row match refuses is kept (the status was
// not its call's answer). The row has no body: the status's event is made
// from req.
func (c *Requests) awaitedRow(cc string, match func(store.Settlement) bool) (store.Settlement, *messages.PaymentSettlementRequest, bool) {
	if c == nil || c.max == 0 {
		return store.Settlement{}, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.byCorrelation[cc]
	if !ok {
		return store.Settlement{}, nil, false
	}
	e := c.m[key]
	if e.awaited == nil || e.req == nil || !match(*e.awaited) {
		return store.Settlement{}, nil, false
	}
	row := *e.awaited
	c.forget(key)
	return row, e.req, true
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

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
// It holds at most max entries, the oldest dropped first: statuses that
// never come to this process (another replica took them) cannot grow it.
// An entry is taken out when used. Its zero value and nil hold nothing.
type Requests struct {
	mu    sync.Mutex
	max   int
	m     map[store.Key]decodedRequest
	order []store.Key // ring of insertion order, for dropping the oldest
	next  int
}

// decodedRequest is a request as its bytes decode, and what identifies
// those bytes.
type decodedRequest struct {
	sum         [sha256.Size]byte
	contentType string
	req         *messages.PaymentSettlementRequest
}

// NewRequests returns a Requests that holds up to n entries (at least 1).
func NewRequests(n int) *Requests {
	n = max(n, 1)
	return &Requests{max: n, m: make(map[store.Key]decodedRequest, n), order: make([]store.Key, n)}
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
	if _, ok := c.m[key]; !ok {
		// The slot's key leaves with it (if it is still here), so every
		// key held has a slot: at most max. A key put again after it was
		// taken may be dropped early with its older slot: a miss.
		delete(c.m, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % c.max
	}
	c.m[key] = e
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
		delete(c.m, s.Key)
	}
	c.mu.Unlock()
	if !ok || e.contentType != s.ContentType || e.sum != sha256.Sum256(s.Request) {
		return nil
	}
	return e.req
}

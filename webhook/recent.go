package webhook

import "sync"

// recentIDs remembers the last n delivered message ids (first in, first
// out), so that a status republished with the same message_id after it was
// delivered — or redelivered because its ack was lost — is acked without a
// second POST. It lives in memory: after a restart delivery is
// at-least-once, and the Idempotency-Key header helps the receiver.
type recentIDs struct {
	mu    sync.Mutex
	n     int
	set   map[string]struct{}
	order []string
	next  int
}

func newRecentIDs(n int) *recentIDs {
	if n < 0 {
		n = 0
	}
	return &recentIDs{n: n, set: make(map[string]struct{}, n), order: make([]string, 0, n)}
}

func (r *recentIDs) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[id]
	return ok
}

func (r *recentIDs) add(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return
	}
	for _, id := range ids {
		if _, ok := r.set[id]; ok {
			continue
		}
		if len(r.order) < r.n {
			r.order = append(r.order, id)
		} else {
			delete(r.set, r.order[r.next])
			r.order[r.next] = id
			r.next = (r.next + 1) % r.n
		}
		r.set[id] = struct{}{}
	}
}

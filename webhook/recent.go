package webhook

import "sync"

// recentIDs remembers the last n delivered message ids (first in, first
// out), so that a status republished with the same message_id after it was
// delivered — or redelivered because its ack was lost — is acked without a
// second POST. It lives in memory: after a restart delivery is
// at-least-once, and the Idempotency-Key header helps the receiver.
//
// With each id it remembers, for the status's settlement (provider and
// request_id headers), the highest status_seq delivered, for as long as
// any of that settlement's delivered ids is remembered: a status of a
// lower seq (an S republished after its chargeback R was delivered) is
// stale, never delivered after it (superseded). So forgetting the S's id
// while the R's is remembered cannot send the S alone after the R.
type recentIDs struct {
	mu    sync.Mutex
	n     int
	set   map[string]string // id → its settlement ("" when unknown)
	order []string
	next  int
	// settled is, per settlement with a remembered id, the highest seq
	// delivered and how many of its ids are remembered.
	settled map[string]*delivered
}

// delivered is what recentIDs knows of one settlement's deliveries.
type delivered struct {
	seq, ids int
}

// sent is one delivered status: its message id, settlement and seq
// (settlement "" or seq 0: unknown, an event of an older worker).
type sent struct {
	id, settlement string
	seq            int
}

func newRecentIDs(n int) *recentIDs {
	if n < 0 {
		n = 0
	}
	return &recentIDs{n: n, set: make(map[string]string, n), order: make([]string, 0, n), settled: map[string]*delivered{}}
}

func (r *recentIDs) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[id]
	return ok
}

// superseded reports whether a later status (a higher seq) of settlement
// than seq was delivered and is remembered.
func (r *recentIDs) superseded(settlement string, seq int) bool {
	if settlement == "" || seq <= 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.settled[settlement]
	return ok && d.seq > seq
}

func (r *recentIDs) add(ss ...sent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return
	}
	for _, s := range ss {
		if s.settlement != "" && s.seq <= 0 {
			s.settlement = ""
		}
		if _, ok := r.set[s.id]; ok {
			if d := r.settled[r.set[s.id]]; d != nil && s.seq > d.seq {
				d.seq = s.seq
			}
			continue
		}
		if len(r.order) < r.n {
			r.order = append(r.order, s.id)
		} else {
			r.forget(r.order[r.next])
			r.order[r.next] = s.id
			r.next = (r.next + 1) % r.n
		}
		r.set[s.id] = s.settlement
		if s.settlement != "" {
			d := r.settled[s.settlement]
			if d == nil {
				d = &delivered{}
				r.settled[s.settlement] = d
			}
			d.ids++
			d.seq = max(d.seq, s.seq)
		}
	}
}

// forget drops id, and its settlement's seq with its last remembered id.
func (r *recentIDs) forget(id string) {
	settlement := r.set[id]
	delete(r.set, id)
	if d := r.settled[settlement]; d != nil {
		if d.ids--; d.ids <= 0 {
			delete(r.settled, settlement)
		}
	}
}

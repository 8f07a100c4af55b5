package main

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// duplicateGrace is how long a run keeps consuming status events after
// every request got its first one, to catch duplicates and second verdicts.
const duplicateGrace = 2 * time.Second

// statusEvent is one status event the worker published.
type statusEvent struct {
	messageID string
	provider  string // its provider header
	status    string // its settlement_status header
	reason    string // DeclineReason of an R
}

// requestCheck is what the status events and the provider's ledger say
// about one provider's requests of a run.
type requestCheck struct {
	verdicts   map[string]int // requests by their events: S, R, S+R, S×2+ (several S), none
	duplicates int            // redelivered events (same message_id), dropped
	debits     int            // live ledger debits of the requests
	problems   []string       // empty: every check passed
}

// checkRequests checks that every request of ids got exactly one S event
// (distinct message_id), no R, each event naming provider in its provider
// header, and left exactly one live debit in the provider's ledger
// (debits, by requestId); debits of keys that are not ours belong to no
// request of this provider.
func checkRequests(provider string, ids []string, events map[string][]statusEvent, debits map[string]int, ours func(string) bool) requestCheck {
	c := requestCheck{verdicts: map[string]int{}}
	var noS, manyS, withR, wrongProvider []string
	var firstR string
	for _, id := range ids {
		seen := map[string]bool{}
		s, r := 0, 0
		for _, ev := range events[id] {
			if ev.provider != provider {
				wrongProvider = append(wrongProvider, fmt.Sprintf("%s (%q)", id, ev.provider))
			}
			if seen[ev.messageID] {
				c.duplicates++
				continue
			}
			seen[ev.messageID] = true
			if ev.status == "S" {
				s++
				continue
			}
			r++
			if firstR == "" {
				firstR = fmt.Sprintf("%s: %s %q", id, ev.status, ev.reason)
			}
		}
		switch {
		case s == 0:
			noS = append(noS, id)
		case s > 1:
			manyS = append(manyS, id)
		}
		if r > 0 {
			withR = append(withR, id)
		}
		switch {
		case s == 1 && r == 0:
			c.verdicts["S"]++
		case s == 0 && r == 0:
			c.verdicts["none"]++
		case s == 0:
			c.verdicts["R"]++
		case r == 0:
			c.verdicts["S×2+"]++
		default:
			c.verdicts["S+R"]++
		}
	}
	if len(noS) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d requests without an S event (%s)", len(noS), someIDs(noS)))
	}
	if len(manyS) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d requests with more than one S event (distinct message_id) (%s)", len(manyS), someIDs(manyS)))
	}
	if len(withR) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d requests with an R event (first: %s)", len(withR), firstR))
	}
	if len(wrongProvider) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d events of %s requests carry another provider header (%s)", len(wrongProvider), provider, someIDs(wrongProvider)))
	}

	var zero, many, foreign []string
	for _, id := range ids {
		c.debits += debits[id]
		switch debits[id] {
		case 0:
			zero = append(zero, id)
		case 1:
		default:
			many = append(many, fmt.Sprintf("%s ×%d", id, debits[id]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(debits)) {
		if !ours(k) {
			foreign = append(foreign, fmt.Sprintf("%s ×%d", k, debits[k]))
		}
	}
	if len(zero) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d requests without a ledger debit (%s)", len(zero), someIDs(zero)))
	}
	if len(many) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d requests debited more than once (%s)", len(many), someIDs(many)))
	}
	if len(foreign) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("%d ledger debits of no request of this provider (%s)", len(foreign), someIDs(foreign)))
	}
	return c
}

// radialDebits counts the Radial sandbox's live (not declined) debits by
// requestId.
func radialDebits(sb *radial.Sandbox) map[string]int {
	out := map[string]int{}
	for _, e := range sb.Ledger() {
		if e.Type == messages.SettlementDebit && e.State != "R" {
			out[e.RequestID]++
		}
	}
	return out
}

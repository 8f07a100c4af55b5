package main

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// result is one provider's verdict in one scenario.
type result struct {
	provider                                   string
	published, s, r, parked, parkedWithMoney   int
	reasons                                    map[string]int // parked_reason → count (all copies)
	rReasons                                   map[string]int // DeclineReason of R verdicts
	changedPublished, changedParked            int
	changedNotParked                           int
	lost, double, sNoMoney, moneyNoS, conflict int
	examples                                   map[string]string // column → one reproduction
}

func (r result) failures() int {
	return r.lost + r.double + r.sNoMoney + r.moneyNoS + r.conflict + r.changedNotParked
}

func (r *result) example(col, f string, a ...any) {
	if _, ok := r.examples[col]; !ok {
		r.examples[col] = fmt.Sprintf(f, a...)
	}
}

type key struct {
	order, typ string
	minor      int64
}

// judge compares what pv's ledger shows with the status events and the
// parked messages for the orders of the run. Providers with an idempotency
// key are matched per requestId; Miva (none) by (order, type, amount)
// multisets: captures of X on O must equal S verdicts for debits of X on O,
// plus those parked with money.
func judge(pv string, orders []*order, ledger []money, ob *observed, changed map[string]string) result {
	res := result{provider: pv, reasons: map[string]int{}, rReasons: map[string]int{}, examples: map[string]string{}}
	byID := map[string]int{}
	byKey := map[key]int{}
	for _, m := range ledger {
		if m.requestID != "" {
			byID[m.requestID]++
		}
		byKey[key{m.order, m.typ, m.minor}]++
	}
	type tally struct {
		s, parked, other int
		ids              []string
	}
	keyTally := map[key]*tally{}
	for _, o := range orders {
		for _, st := range o.settlements {
			res.published++
			id := st.id
			sIDs, rIDs := map[string]bool{}, map[string]bool{}
			var rReason string
			for _, e := range ob.events[id] {
				if e.status == "S" {
					sIDs[e.messageID] = true
				} else {
					rIDs[e.messageID] = true
					rReason = e.reason
				}
			}
			isParked := false
			for _, p := range ob.parked[id] {
				res.reasons[normalize(p.reason)]++
				res.example("parked: "+prefix(normalize(p.reason), 40), "%s (%s copy, order %s): %s", id, p.copy, o.id, p.reason)
				if strings.HasPrefix(p.copy, "changed:") {
					res.changedParked++
				} else {
					isParked = true
				}
			}
			if _, ok := changed[id]; ok {
				res.changedPublished++
				n := 0
				for _, p := range ob.parked[id] {
					if strings.HasPrefix(p.copy, "changed:") {
						n++
					}
				}
				if n == 0 {
					res.changedNotParked++
					res.example("changed not parked", "%s: republished with %s changed, not parked; events %v", id, changed[id], ob.events[id])
				}
			}
			switch {
			case len(sIDs) > 0:
				res.s++
			case len(rIDs) > 0:
				res.r++
				res.rReasons[normalize(rReason)]++
			case isParked:
				res.parked++
			default:
				res.lost++
				res.example("lost", "%s (order %s, %s %s): no status event, not parked; ledger entries %d", id, o.id, st.typ, fmtMinor(st.minor), byID[id])
			}
			if (len(sIDs) > 0 && len(rIDs) > 0) || len(sIDs) > 1 {
				res.conflict++
				res.example("conflicting", "%s: %d S and %d R events with distinct message_ids (R: %q)", id, len(sIDs), len(rIDs), rReason)
			}
			k := key{o.id, st.typ, st.minor}
			t := keyTally[k]
			if t == nil {
				t = &tally{}
				keyTally[k] = t
			}
			t.ids = append(t.ids, fmt.Sprintf("%s:%s", id, verdictOf(ob.events[id], isParked)))
			switch {
			case len(sIDs) > 0:
				t.s++
			case isParked:
				t.parked++
			default:
				t.other++
			}
			if pv == "miva" {
				continue
			}
			n := byID[id]
			switch {
			case n > 1:
				res.double++
				res.example("double", "%s (order %s): %d ledger entries for one settlement; events %v", id, o.id, n, ob.events[id])
			case n == 0 && len(sIDs) > 0:
				res.sNoMoney++
				res.example("S without money", "%s (order %s): S event, no ledger entry", id, o.id)
			}
			if n > 0 && len(sIDs) == 0 {
				if isParked {
					res.parkedWithMoney++
				} else {
					res.moneyNoS++
					res.example("money without S", "%s (order %s): %d ledger entries, events %v", id, o.id, n, ob.events[id])
				}
			}
		}
	}
	if pv == "miva" {
		for _, k := range slices.SortedFunc(maps.Keys(keyTally), func(a, b key) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }) {
			t, l := keyTally[k], byKey[k]
			if l < t.s {
				res.sNoMoney += t.s - l
				res.example("S without money", "order %s %s %s: %d S verdicts, %d ledger entries (%s)", k.order, k.typ, fmtMinor(k.minor), t.s, l, strings.Join(t.ids, " "))
				continue
			}
			excess := l - t.s
			pm := min(excess, t.parked)
			res.parkedWithMoney += pm
			excess -= pm
			noS := min(excess, t.other)
			res.moneyNoS += noS
			res.double += excess - noS
			if noS > 0 {
				res.example("money without S", "order %s %s %s: %d ledger entries, %d S, %d neither S nor parked (%s)", k.order, k.typ, fmtMinor(k.minor), l, t.s, t.other, strings.Join(t.ids, " "))
			}
			if excess-noS > 0 {
				res.example("double", "order %s %s %s: %d ledger entries, %d S verdicts, %d parked (%s)", k.order, k.typ, fmtMinor(k.minor), l, t.s, t.parked, strings.Join(t.ids, " "))
			}
		}
	}
	return res
}

// printTable writes one scenario's table and the reproductions.
func printTable(w io.Writer, name string, rs []result, notes string) {
	fmt.Fprintf(w, "\n== %s\n", name)
	fmt.Fprintf(w, "%-8s %6s %6s %5s %6s %6s %6s | %5s %6s %6s %6s %6s %6s\n",
		"provider", "publ", "S", "R", "parked", "p+$", "dupPk", "lost", "double", "S-no$", "$-noS", "confl", "chgNP")
	for _, r := range rs {
		fmt.Fprintf(w, "%-8s %6d %6d %5d %6d %6d %3d/%-2d | %5d %6d %6d %6d %6d %6d\n",
			r.provider, r.published, r.s, r.r, r.parked, r.parkedWithMoney, r.changedParked, r.changedPublished,
			r.lost, r.double, r.sNoMoney, r.moneyNoS, r.conflict, r.changedNotParked)
	}
	for _, r := range rs {
		for _, reason := range slices.Sorted(maps.Keys(r.reasons)) {
			fmt.Fprintf(w, "  %s parked ×%d: %s\n", r.provider, r.reasons[reason], reason)
		}
		for _, reason := range slices.Sorted(maps.Keys(r.rReasons)) {
			fmt.Fprintf(w, "  %s R ×%d: %s\n", r.provider, r.rReasons[reason], reason)
		}
		for _, col := range slices.Sorted(maps.Keys(r.examples)) {
			fmt.Fprintf(w, "  %s %s e.g. %s\n", r.provider, col, r.examples[col])
		}
	}
	if notes != "" {
		for _, l := range strings.Split(notes, "\n") {
			fmt.Fprintf(w, "  note: %s\n", l)
		}
	}
}

var (
	quoted = regexp.MustCompile(`"[^"]*"`)
	digits = regexp.MustCompile(`[0-9]+`)
)

// normalize makes reasons that differ only in ids, values and times equal.
func normalize(s string) string {
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return digits.ReplaceAllString(quoted.ReplaceAllString(s, `"…"`), "N")
}

// verdictOf summarizes events: the statuses in order, or "parked" / "none".
func verdictOf(evs []event, parked bool) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.status)
	}
	switch {
	case b.Len() > 0:
		return b.String()
	case parked:
		return "parked"
	}
	return "none"
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

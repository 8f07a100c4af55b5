package miva

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Payment record types (OrderPaymentList_Load "type", seed document).
const (
	TypeDeclined      = 0
	TypeLegacyAuth    = 1
	TypeLegacyCapture = 2
	TypeAuth          = 3
	TypeCapture       = 4
	TypeAuthCapture   = 5
	TypeRefund        = 6
	TypeVoid          = 7
)

var typeNames = map[int]string{
	TypeDeclined: "declined", TypeLegacyAuth: "legacy authorization", TypeLegacyCapture: "legacy capture",
	TypeAuth: "authorization", TypeCapture: "capture", TypeAuthCapture: "authorization + capture",
	TypeRefund: "refund", TypeVoid: "void",
}

func typeName(t int) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

// IsAuthorization reports whether a record of type t can be captured:
// 1 legacy authorization, 3 authorization, 5 authorization + capture.
func IsAuthorization(t int) bool { return t == TypeLegacyAuth || t == TypeAuth || t == TypeAuthCapture }

// IsCapture reports whether a record of type t can be refunded:
// 2 legacy capture, 4 capture, 5 authorization + capture.
func IsCapture(t int) bool { return t == TypeLegacyCapture || t == TypeCapture || t == TypeAuthCapture }

// isNewCapture reports whether a record of type t is made by a capture.
func isNewCapture(t int) bool { return t == TypeLegacyCapture || t == TypeCapture }

// isNewRefund reports whether a record of type t is made by a refund.
func isNewRefund(t int) bool { return t == TypeRefund }

// ChooseAuthorization picks the authorization to capture amount from: a
// record of type 1, 3 or 5 whose available covers amount; one the list
// shows unexpired at now (Expired) before one it shows expired, then the
// smallest sufficient available (large authorizations stay whole for later
// shipments), ties to the lowest id (the oldest). An authorization shown
// expired is still chosen when no other covers the amount: Miva's clock,
// not the worker's, decides, and refuses it (authorization_expired) if
// it has expired.
func ChooseAuthorization(ps []Payment, amount decimal.Decimal, now time.Time) (Payment, bool) {
	var best Payment
	found := false
	for _, p := range ps {
		if !IsAuthorization(p.Type) || p.Available.LessThan(amount) {
			continue
		}
		if !found {
			best, found = p, true
			continue
		}
		pe, be := p.Expired(now), best.Expired(now)
		if pe != be {
			if !pe {
				best = p
			}
			continue
		}
		if p.Available.LessThan(best.Available) || (p.Available.Equal(best.Available) && p.ID < best.ID) {
			best = p
		}
	}
	return best, found
}

// Expired reports whether the list shows p past its expiry date at now:
// Expires is a Unix time (seconds) earlier than now. An empty, zero or
// unreadable Expires never expires.
func (p Payment) Expired(now time.Time) bool {
	at, err := strconv.ParseInt(strings.TrimSpace(p.Expires), 10, 64)
	return err == nil && at > 0 && now.Unix() > at
}

// captured is what a capture record captured, as far as the list tells:
// its amount (types 2, 4), or amount − available for a type 5 sale.
func captured(p Payment) decimal.Decimal {
	if p.Type == TypeAuthCapture {
		return p.Amount.Sub(p.Available)
	}
	return p.Amount
}

// ChooseCapture picks the capture record to refund amount from: a record
// of type 2, 4 or 5 that captured at least amount; the smallest such
// capture wins, ties go to the lowest id. The list does not say which
// refund belongs to which capture, so Miva may still refuse a capture that
// was refunded already: Settle then tries the next capture that covers the
// amount (refundTargets).
func ChooseCapture(ps []Payment, amount decimal.Decimal) (Payment, bool) {
	var best Payment
	found := false
	for _, p := range ps {
		if !IsCapture(p.Type) || captured(p).LessThan(amount) {
			continue
		}
		if !found || captured(p).LessThan(captured(best)) || (captured(p).Equal(captured(best)) && p.ID < best.ID) {
			best, found = p, true
		}
	}
	return best, found
}

// Refundable estimates what an order has captured and not refunded, from
// the list alone. Two readings are computed and the larger is used, so
// that the client never refuses a refund Miva would make (Miva enforces
// the exact rule): capture records (types 2, 4 plus the sale part of 5)
// less refunds, and authorizations' amount − available (less voids) less
// refunds.
func Refundable(ps []Payment) decimal.Decimal {
	var byCaptures, byAuths, refunds decimal.Decimal
	for _, p := range ps {
		switch {
		case p.Type == TypeRefund:
			refunds = refunds.Add(p.Amount)
		case p.Type == TypeVoid:
			byAuths = byAuths.Sub(p.Amount)
		}
		if IsCapture(p.Type) {
			byCaptures = byCaptures.Add(captured(p))
		}
		if IsAuthorization(p.Type) {
			byAuths = byAuths.Add(p.Amount.Sub(p.Available))
		}
	}
	return decimal.Max(byCaptures, byAuths).Sub(refunds)
}

// maxDescribed bounds the records describe names.
const maxDescribed = 10

// describe lists the records of the kinds wanted, for reasons:
// "record 2 (legacy authorization) 7.00 USD available, ...": the first
// maxDescribed, then how many more ("and 19990 more"). A reason is
// logged, stored and, as an R's DeclineReason, published and POSTed to
// the webhook; an order's list, read up to 4 MiB, could hold tens of
// thousands of records.
func describe(ps []Payment, want func(int) bool, value func(Payment) decimal.Decimal, what string, f func(decimal.Decimal) string) string {
	var parts []string
	more := 0
	for _, p := range ps {
		switch {
		case !want(p.Type):
		case len(parts) == maxDescribed:
			more++
		default:
			parts = append(parts, fmt.Sprintf("record %d (%s) %s %s", p.ID, typeName(p.Type), f(value(p)), what))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(parts, ", ")
}

// newRecords returns the records of the wanted types with exactly amount
// that are not in before (all of them when before is nil), highest id first.
func newRecords(ps []Payment, before map[int64]bool, want func(int) bool, amount decimal.Decimal) []Payment {
	var out []Payment
	for _, p := range ps {
		if want(p.Type) && p.Amount.Equal(amount) && (before == nil || !before[p.ID]) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

// refundTargets lists the capture records a refund of amount is tried on,
// in order: chosen (Prepare's choice, RefPaymentID) when it is still a
// capture on the list, then every other capture record that captured at
// least amount, in ChooseCapture's order (smallest capture first, ties to
// the lowest id). The list does not say which capture a refund belongs to,
// so a capture may turn out to be refunded already; the next is tried then.
func refundTargets(ps []Payment, amount decimal.Decimal, chosen int64, hasChosen bool) []Payment {
	var out []Payment
	if hasChosen {
		p, ok := find(ps, chosen)
		if !ok || !IsCapture(p.Type) {
			return nil
		}
		out = append(out, p)
	}
	var rest []Payment
	for _, p := range ps {
		if IsCapture(p.Type) && !captured(p).LessThan(amount) && !(hasChosen && p.ID == chosen) {
			rest = append(rest, p)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool {
		if c := captured(rest[i]).Cmp(captured(rest[j])); c != 0 {
			return c < 0
		}
		return rest[i].ID < rest[j].ID
	})
	return append(out, rest...)
}

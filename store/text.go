package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/messages"
)

// Text the store writes. PostgreSQL's TEXT refuses a NUL byte and invalid
// UTF-8 (SQLSTATE 22021), and jsonb, which refs are merged as, refuses the
// escape \u0000 (22P05); SQLite stores them. Provider text (a decline
// reason, an error in a parked reason or a note, a reference) may hold
// either, and a transition refused for it is a verdict, money moved, that
// is never recorded: the delivery would be retried forever. So the store
// makes both backends agree, before any statement, in two ways:
//
//   - Free text — Change's DeclineReason, ParkedReason, Note, Via notes and
//     Refs (keys and values), and a registration's ClientContext and
//     ContentType — is cleaned (cleanText): each NUL byte and each run of
//     invalid UTF-8 becomes U+FFFD. It is never refused.
//   - Identifiers, which the store compares — the key, the other columns
//     Find selects on, a status event's DedupKey, MessageID and
//     SettlementStatus — are not rewritten (two ids would become one):
//     Register, and Transition for a status event's, refuse one that is
//     not valid text (ErrInvalidText) on both backends. Reads by one (Get,
//     Transition, Statuses, History, Find) find nothing, as no settlement
//     can have it. None can come from a request body, which is XML (no
//     NUL, no invalid UTF-8).
//
// Request and status event bodies are bytes (BLOB, bytea) and Headers are
// stored as JSON text (any string escapes to valid text): both are kept
// as they are.

// ErrInvalidText is returned by Register and Transition for an identifier
// (see above) holding a NUL byte or invalid UTF-8.
var ErrInvalidText = errors.New("store: identifier is not valid text (NUL byte or invalid UTF-8)")

// replacement is what cleanText puts for a NUL byte or invalid UTF-8.
const replacement = "\uFFFD"

// cleanText returns s with each NUL byte and each run of invalid UTF-8
// replaced by U+FFFD; valid text is returned as it is (no copy).
func cleanText(s string) string {
	if validText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, replacement), "\x00", replacement)
}

// validText reports whether both backends store s as it is.
func validText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// cleanChange is ch with its free text cleaned (cleanText); ch's maps and
// slices are copied only when something changes.
func cleanChange(ch Change) Change {
	if ch.DeclineReason != nil && !validText(*ch.DeclineReason) {
		v := cleanText(*ch.DeclineReason)
		ch.DeclineReason = &v
	}
	if ch.ParkedReason != nil && !validText(*ch.ParkedReason) {
		v := cleanText(*ch.ParkedReason)
		ch.ParkedReason = &v
	}
	ch.Note = cleanText(ch.Note)
	for i, w := range ch.Via {
		if !validText(w.Note) {
			ch.Via = append([]Waypoint(nil), ch.Via...)
			for j := i; j < len(ch.Via); j++ {
				ch.Via[j].Note = cleanText(ch.Via[j].Note)
			}
			break
		}
	}
	ch.Refs = cleanMap(ch.Refs)
	ch.IfRefs = cleanMap(ch.IfRefs) // compared with refs stored clean
	return ch
}

// cleanMap is m with its keys and values cleaned (a copy when one
// changes). Two keys that clean to the same one keep the value of the
// larger original key (a stable choice).
func cleanMap(m map[string]string) map[string]string {
	dirty := false
	for k, v := range m {
		if !validText(k) || !validText(v) {
			dirty = true
			break
		}
	}
	if !dirty {
		return m
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) { // sorted: a collision keeps the same value every time
		out[cleanText(k)] = cleanText(m[k])
	}
	return out
}

// cleanRegistration is a settlement to register with its free text
// cleaned, or an error wrapping ErrInvalidText naming the identifier that
// is not valid text.
func cleanRegistration(in Settlement) (Settlement, error) {
	for _, f := range []struct{ name, v string }{
		{"provider", in.Provider}, {"request id", in.RequestID}, {"fingerprint", in.Fingerprint},
		{"store id", in.StoreID}, {"order id", in.OrderID}, {"tender type", in.TenderType},
		{"settlement type", in.SettlementType}, {"amount", in.Amount}, {"currency", in.Currency},
		{"correlation id", in.CorrelationID},
	} {
		if !validText(f.v) {
			return Settlement{}, fmt.Errorf("%w: %s %q", ErrInvalidText, f.name, messages.MaskPANs(f.v))
		}
	}
	in.ClientContext = cleanText(in.ClientContext)
	in.ContentType = cleanText(in.ContentType)
	return in, nil
}

// unstorableKey reports whether key is not valid text: no settlement can
// have it, so a read by it finds nothing (as SQLite would answer, where
// PostgreSQL would refuse the statement).
func unstorableKey(key Key) bool {
	return !validText(key.Provider) || !validText(key.RequestID)
}

// checkEventText returns an error wrapping ErrInvalidText when a status
// event's identifiers are not valid text.
func checkEventText(ev *StatusEvent) error {
	if ev == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{
		{"dedup key", ev.DedupKey}, {"message id", ev.MessageID}, {"settlement status", ev.SettlementStatus},
	} {
		if !validText(f.v) {
			return fmt.Errorf("%w: status event %s %q", ErrInvalidText, f.name, f.v)
		}
	}
	return nil
}

package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// maxRequestID is PaymentSettlementRequest/@requestId's limit.
const maxRequestID = 40

// maxInvoiceID is InvoiceId's limit.
const maxInvoiceID = 20

// plainID is an id component that can be written as is.
var plainID = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// retailOPSRequestID derives the requestId of one account's settlement
// from what identifies it in RetailOPS: the channel, the order, the payment
// series and the payment account. The same webhook delivered twice (a
// RetailOPS retry after a timeout or a 5xx) yields the same requestIds, so
// the worker settles each once; different inputs never share one.
//
// The readable form "ro-<channel>-<order>-<series>-<account>" is used when
// every part is [A-Za-z0-9_]+ (no separator can be forged) and it fits in
// 40 characters; otherwise "roh-" and 36 hex characters of a SHA-256 over
// the parts, NUL-separated. The two forms cannot collide: the readable one
// has five dash-separated parts, the hashed one two.
func retailOPSRequestID(channel, order, series, account string) string {
	parts := []string{channel, order, series, account}
	readable := "ro-" + strings.Join(parts, "-")
	if len(readable) <= maxRequestID && allPlain(parts) {
		return readable
	}
	return "roh-" + digest(parts)[:maxRequestID-len("roh-")]
}

// retailOPSInvoiceID is the InvoiceId of one account's settlement:
// "<order>-<account>" when it fits in 20 characters and both are plain,
// else "RO" and 18 hex characters of a SHA-256 over order and account.
func retailOPSInvoiceID(order, account string) string {
	readable := order + "-" + account
	if len(readable) <= maxInvoiceID && allPlain([]string{order, account}) {
		return readable
	}
	return "RO" + digest([]string{order, account})[:maxInvoiceID-2]
}

func allPlain(parts []string) bool {
	for _, p := range parts {
		if !plainID.MatchString(p) {
			return false
		}
	}
	return true
}

func digest(parts []string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

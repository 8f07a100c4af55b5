package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// correlationPrefix starts every correlation id the worker derives. Radial's
// checkout/1.0 ClientContext is a plain string (no pattern, no documented
// maximum length in the published specification); the id keeps to 35
// characters of [a-z0-9-] so that it fits any 40-character id field too.
const correlationPrefix = "sw1-"

// correlationID is the ClientContext the worker sends to the provider for
// a settlement, and on which an asynchronous status is matched back to it.
//
// It is unique per settlement: derived from the provider and the requestId
// (the settlement's key), never from the request's own ClientContext, which
// several settlements of an order may share. It is deterministic, so a
// resubmission after a crash sends the same one (Radial is idempotent on
// requestId). The order system's own ClientContext is kept in
// store.Settlement.ClientContext and returned in our status events.
func correlationID(key store.Key, _ *messages.PaymentSettlementRequest) string {
	sum := sha256.Sum256([]byte(key.Provider + "\x00" + key.RequestID))
	return correlationPrefix + hex.EncodeToString(sum[:16])
}

// ownCorrelation reports whether s carries a correlation id derived by
// correlationID. Settlements registered before it existed carry the
// request's own ClientContext (or their requestId) instead: those are
// "legacy" and only the field match can tell them apart.
func ownCorrelation(s store.Settlement) bool {
	return strings.HasPrefix(s.CorrelationID, correlationPrefix) && s.CorrelationID == correlationID(s.Key, nil)
}

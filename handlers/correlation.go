package handlers

import (
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// correlationID is the ClientContext the worker sends to the provider for
// a settlement, and on which an asynchronous status is matched back to it:
// the request's own ClientContext, or its requestId when it has none.
func correlationID(key store.Key, req *messages.PaymentSettlementRequest) string {
	if req.ClientContext != "" {
		return req.ClientContext
	}
	return key.RequestID
}

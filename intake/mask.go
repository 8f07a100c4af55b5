package intake

import "github.com/settlement-worker/settlement-worker/messages"

// maskedError is err's text with its card numbers masked
// (messages.MaskPANs), for a log line: a decoder quotes the body near its
// error, a publish error names the sender's requestId.
func maskedError(err error) string {
	return messages.MaskPANs(err.Error())
}

// maskedIDs is ids with their card numbers masked, for a log line: a
// sender chooses a Radial requestId, and a RetailOPS one is derived from
// the order id it sent.
func maskedIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = messages.MaskPANs(id)
	}
	return out
}

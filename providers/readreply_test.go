package providers_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestReadReply: a body of the limit is read whole; one byte more is a
// transient error naming the limit, not a body cut at it; a failed read
// is returned as it is (the caller's failed exchange).
func TestReadReply(t *testing.T) {
	const limit = 16
	resp := func(r io.Reader) *http.Response {
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(r)}
	}
	data, err := providers.ReadReply("p", "op", resp(strings.NewReader(strings.Repeat("a", limit))), limit)
	if err != nil || len(data) != limit {
		t.Errorf("a body of the limit: %d bytes, %v", len(data), err)
	}
	data, err = providers.ReadReply("p", "op", resp(strings.NewReader(strings.Repeat("a", limit+1))), limit)
	if !providers.IsReplyTooLarge(err) || providers.ClassOf(err) != providers.Transient || data != nil ||
		!strings.Contains(providers.ReasonOf(err), "p op: HTTP 200 with a reply larger than 16 bytes") {
		t.Errorf("a body over the limit: %q, %v", data, err)
	}
	cut := errors.New("connection reset")
	_, err = providers.ReadReply("p", "op", resp(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(cut))), limit)
	if !errors.Is(err, cut) || providers.IsReplyTooLarge(err) {
		t.Errorf("a failed read: %v", err)
	}
}

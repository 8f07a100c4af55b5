package intake

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

// refusal is an HTTP-level refusal (method, media type, size, unreadable
// body) that each endpoint renders in its own error shape.
type refusal struct {
	status int
	code   string // RetailOPS error_code
	fault  string // Radial Fault/Code
	msg    string
}

// preflight applies the checks every POST endpoint shares: the method must
// be POST (405 with Allow), the media type one of types (415), fewer than
// MaxInFlight requests handled (503 with Retry-After, before the body is
// read), the body at most MaxBodyBytes (413) and readable (400). It
// returns the body, and release, which gives back the request's place of
// MaxInFlight: the caller defers it (a no-op after a refusal).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, types ...string) ([]byte, func(), *refusal) {
	none := func() {}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		// The method and the content type are the sender's text, quoted
		// in the answer and the log line: a card number written there is
		// masked, as everywhere the intake quotes a request.
		return nil, none, &refusal{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "MethodNotAllowed",
			messages.MaskPANs(fmt.Sprintf("method %s is not allowed on %s: use POST", r.Method, r.URL.Path))}
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(types, strings.ToLower(mt)) {
		return nil, none, &refusal{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "UnsupportedMediaType",
			messages.MaskPANs(fmt.Sprintf("content type %q is not accepted here: send %s", ct, strings.Join(types, " or ")))}
	}
	// Each request may hold MaxBodyBytes, and its decoding, until it is
	// answered: past MaxInFlight, one more is refused before its body is
	// read, or the memory held would grow with the connections a client
	// opens.
	select {
	case s.inFlight <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		return nil, none, &refusal{http.StatusServiceUnavailable, ErrBusy, FaultServiceUnavailable,
			fmt.Sprintf("%d requests are being handled, the most at once (INTAKE_MAX_IN_FLIGHT): retry shortly", s.cfg.MaxInFlight)}
	}
	release := func() { <-s.inFlight }
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		release()
		return nil, none, &refusal{http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "PayloadTooLarge",
			fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)}
	case err != nil:
		release()
		return nil, none, &refusal{http.StatusBadRequest, "UNREADABLE_BODY", "MalformedRequest", "request body could not be read: " + err.Error()}
	}
	// net/http counts WriteTimeout from the end of the headers, the body's
	// reading included: counted again from here, the handling and the
	// answer get all of it, and WriteTimeout > PublishTimeout tells a slow
	// sender the outcome of its publishes.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	return body, release, nil
}

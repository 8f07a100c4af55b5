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
// be POST (405 with Allow), the media type one of types (415), the body at
// most MaxBodyBytes (413) and readable (400). It returns the body.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, types ...string) ([]byte, *refusal) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &refusal{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "MethodNotAllowed",
			fmt.Sprintf("method %s is not allowed on %s: use POST", r.Method, r.URL.Path)}
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(types, strings.ToLower(mt)) {
		return nil, &refusal{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "UnsupportedMediaType",
			fmt.Sprintf("content type %q is not accepted here: send %s", ct, strings.Join(types, " or "))}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &refusal{http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "PayloadTooLarge",
			fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)}
	case err != nil:
		return nil, &refusal{http.StatusBadRequest, "UNREADABLE_BODY", "MalformedRequest", "request body could not be read: " + err.Error()}
	}
	// net/http counts WriteTimeout from the end of the headers, the body's
	// reading included: counted again from here, the handling and the
	// answer get all of it, and WriteTimeout > PublishTimeout tells a slow
	// sender the outcome of its publishes.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	return body, nil
}

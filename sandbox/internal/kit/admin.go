package kit

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// AdminError is the JSON body of an admin API error.
type AdminError struct {
	Error string `json:"error"`
}

// WriteJSON answers status with v encoded as indented JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteAdminError answers status with an AdminError carrying msg.
func WriteAdminError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, AdminError{Error: msg})
}

// ReadJSON decodes an admin request body (at most 1 MiB) into v strictly:
// unknown fields are errors. When it cannot, it answers 400 itself and
// returns false.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteAdminError(w, http.StatusBadRequest, fmt.Sprintf("invalid JSON body: %v", err))
		return false
	}
	return true
}

// LoopbackOnly refuses (403) calls from other hosts than loopback ones,
// unless allowRemote.
func LoopbackOnly(allowRemote bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRemote && !isLoopback(r.RemoteAddr) {
			WriteAdminError(w, http.StatusForbidden, "the sandbox admin API answers loopback callers only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdminMux registers a sandbox's admin API routes, each behind
// LoopbackOnly.
type AdminMux struct {
	mux         *http.ServeMux
	base        string
	allowRemote bool
}

// NewAdminMux registers on mux below base (a sandbox's
// "{prefix}/_sandbox").
func NewAdminMux(mux *http.ServeMux, base string, allowRemote bool) AdminMux {
	return AdminMux{mux: mux, base: base, allowRemote: allowRemote}
}

// Handle serves method requests for base+path with h.
func (a AdminMux) Handle(method, path string, h http.HandlerFunc) {
	a.mux.Handle(method+" "+a.base+path, LoopbackOnly(a.allowRemote, h))
}

// JSONBody returns a handler that reads an In strictly (see ReadJSON) and
// answers 200 with what f makes of it, or 400 with f's error.
func JSONBody[In, Out any](f func(In) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		if !ReadJSON(w, r, &in) {
			return
		}
		out, err := f(in)
		if err != nil {
			WriteAdminError(w, http.StatusBadRequest, err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, out)
	}
}

// JSONValue returns a handler that answers 200 with what f returns.
func JSONValue[T any](f func() T) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, f())
	}
}

// NoContent returns a handler that runs f and answers 204.
func NoContent(f func()) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		f()
		w.WriteHeader(http.StatusNoContent)
	}
}

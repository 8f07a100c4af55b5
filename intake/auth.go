package intake

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// secretMatches reports whether given equals one of the accepted secrets, in
// constant time: both sides are hashed first, so neither the content nor the
// length of a secret leaks through timing, and every accepted secret is
// compared (no early exit). Empty secrets never match.
func secretMatches(given string, accepted []string) bool {
	if given == "" {
		return false
	}
	g := sha256.Sum256([]byte(given))
	ok := 0
	for _, a := range accepted {
		if a == "" {
			continue
		}
		h := sha256.Sum256([]byte(a))
		ok |= subtle.ConstantTimeCompare(g[:], h[:])
	}
	return ok == 1
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive, RFC 6750), or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// basicMatches checks HTTP basic credentials against user and password in
// constant time (both compared, whatever the first result).
func basicMatches(r *http.Request, user, password string) bool {
	if user == "" || password == "" {
		return false
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := secretMatches(u, []string{user})
	passOK := secretMatches(p, []string{password})
	return userOK && passOK
}

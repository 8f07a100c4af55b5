package miva

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/http"
	"strings"
	"time"
)

// Authorization header types (Miva JSON API documentation: "X-Miva-API-
// Authorization: type <access token>[:<hmac>]").
const (
	AuthTypeToken      = "MIVA"
	AuthTypeHMACSHA256 = "MIVA-HMAC-SHA256"
	AuthTypeHMACSHA1   = "MIVA-HMAC-SHA1"
)

// Sign returns the base64 HMAC of body with a base64 signing key, as
// Miva's SDKs compute it (key base64-decoded, digest base64-encoded).
func Sign(authType, signingKey string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(signingKey)
	if err != nil {
		return "", err
	}
	var h func() hash.Hash = sha256.New
	if authType == AuthTypeHMACSHA1 {
		h = sha1.New
	}
	m := hmac.New(h, key)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// authenticate checks X-Miva-API-Authorization (token, then signature
// over the raw body when the token has a signing key) and, when required,
// Miva_Request_Timestamp. Messages never echo the token or signature.
func (s *Sandbox) authenticate(r *http.Request, body []byte, p params, now time.Time) *apiError {
	h := strings.TrimSpace(r.Header.Get(AuthorizationHeader))
	typ, cred, ok := strings.Cut(h, " ")
	if !ok || h == "" {
		return newErr(CodeAccessDenied, "Access denied: missing or malformed "+AuthorizationHeader+" header")
	}
	token, sig, signed := strings.Cut(strings.TrimSpace(cred), ":")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.APIToken)) != 1 {
		return newErr(CodeAccessDenied, "Access denied: unknown API token")
	}
	switch typ = strings.ToUpper(typ); {
	case s.cfg.SigningKey == "" && typ == AuthTypeToken && !signed:
	case s.cfg.SigningKey == "":
		return newErr(CodeInvalidSignature, "This API token has no signing key: use the "+AuthTypeToken+" header type")
	case typ != AuthTypeHMACSHA256 && typ != AuthTypeHMACSHA1:
		return newErr(CodeInvalidSignature, "This API token requires an HMAC signature ("+AuthTypeHMACSHA256+" or "+AuthTypeHMACSHA1+")")
	default:
		want, err := Sign(typ, s.cfg.SigningKey, body)
		if err != nil || !signed || !hmac.Equal([]byte(sig), []byte(want)) {
			return newErr(CodeInvalidSignature, "Invalid request signature")
		}
	}
	if !s.cfg.RequireTimestamp {
		return nil
	}
	ts, ok, e := p.int64Param("Miva_Request_Timestamp", false)
	if e != nil || !ok {
		return newErr(CodeInvalidTimestamp, "Miva_Request_Timestamp is required")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > s.cfg.TimestampWindow || d < -s.cfg.TimestampWindow {
		return newErr(CodeInvalidTimestamp, "Miva_Request_Timestamp is outside the allowed window")
	}
	return nil
}

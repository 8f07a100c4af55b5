// Package redact shows an http(s) URL that may carry a secret in a form
// fit for logs, errors and readiness output.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// Mask replaces each secret part of a URL.
const Mask = "xxxxx"

// Fingerprint is the first 8 hex digits of the SHA-256 of raw, the string
// exactly as configured: an operator compares it with
// printf %s "$URL" | sha256sum | cut -c1-8.
func Fingerprint(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:4])
}

// URL shows raw with every part that may be a secret masked, followed by
// its Fingerprint: "https://hooks.slack.com/xxxxx/xxxxx/xxxxx/xxxxx
// (sha256:1a2b3c4d)". Only the scheme, the host (and port) and the query's
// keys are kept. The userinfo is masked whole (a token is often the user
// name: https://TOKEN@host/). Each path segment is masked, as many
// services put the secret in the path (Slack's /services/T…/B…/SECRET,
// Discord's /api/webhooks/ID/TOKEN). The query's values are masked as
// written, pair by pair, not through url.Values, which drops a pair it
// cannot parse (a ';' separator, a bad %-escape) and takes a bare ?SECRET
// for a key: a pair without '=' is masked whole. The fragment is dropped.
func URL(raw string) string {
	fp := " (sha256:" + Fingerprint(raw) + ")"
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)" + fp
	}
	if u.User != nil {
		u.User = url.User(Mask)
	}
	if u.Opaque != "" {
		// https:host/path (no "//"): all of it is the path.
		u.Opaque = Mask
	}
	if u.Path != "" {
		// Split as written: a %2F inside a segment does not split it.
		segs := strings.Split(u.EscapedPath(), "/")
		for i, s := range segs {
			if s != "" {
				segs[i] = Mask
			}
		}
		u.Path, u.RawPath = strings.Join(segs, "/"), ""
	}
	if u.RawQuery != "" {
		pairs := strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' })
		for i, p := range pairs {
			if k, _, ok := strings.Cut(p, "="); ok {
				pairs[i] = k + "=" + Mask
			} else {
				pairs[i] = Mask
			}
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	u.ForceQuery = false
	u.Fragment, u.RawFragment = "", ""
	return u.String() + fp
}

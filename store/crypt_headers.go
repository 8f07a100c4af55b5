package store

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strings"

	"github.com/settlement-worker/settlement-worker/messages"
)

// Recorded headers. The handlers record a request's headers with the
// card numbers of most masked, but the headers that steer money
// (store_id, tender_type, original_authorization_amount and each
// provider's Facts.MoneyHeaders) as sent: a duplicate's identity compares
// them and the sweeper's re-drive sends them. With a key, Encrypted seals
// a header value that holds a card number (messages.MaskPANs would change
// it) as it seals bodies, bound to its row and to the header's name, and
// opens it when read: every reader sees the value as sent. Other values
// are kept as they are (most hold none: a sealed value costs an AES-GCM
// seal and open and a third more bytes).
//
// The headers column is JSON text; a value is stored as one of
//
//   - the value as sent, when it does not start with headerMark (every
//     value recorded before headers were sealed, but for the rare one
//     starting with a NUL byte);
//   - sealedHeader, then the sealed value (sealedMagic, key id, nonce,
//     ciphertext: see seal) in base64;
//   - escapedHeader, then the value as sent, when it starts with
//     headerMark and is not sealed (no key, or no card number in it).
//
// So no value a sender writes is read as a sealed one: every stored value
// starting with headerMark was written in one of the two marked forms,
// the escape standing for a value that looks marked. A sealed value opens
// only with its row's key, header name and a configured key; one that
// does not open fails the read (ErrUnreadable), never passing on the
// marked text as the header.
const (
	headerMark    = "\x00"
	sealedHeader  = headerMark + "SWE1:"
	escapedHeader = headerMark + "sent:"
)

// sealedHeaderKind starts the authenticated data of a header value (see
// rowData): "header " and its name. The provider and requestId after it
// hold no NUL (ErrInvalidText), so the name is what comes before them.
const sealedHeaderKind = "header "

// sealHeaders returns h as the store writes it for key: values holding
// a card number sealed (with keys), values starting with headerMark
// escaped. h itself is not changed; it is returned as it is when no value
// needs either.
func (e *encrypted) sealHeaders(key Key, h map[string]string) (map[string]string, error) {
	var out map[string]string
	for name, v := range h {
		w, err := e.encodeHeader(key, name, v)
		if err != nil {
			return nil, fmt.Errorf("seal header %s of %s: %w", messages.MaskPANs(name), keyText(key), err)
		}
		if w == v {
			continue
		}
		if out == nil {
			out = maps.Clone(h)
		}
		out[name] = w
	}
	if out == nil {
		return h, nil
	}
	return out, nil
}

// encodeHeader is header name's value v as stored (see sealHeaders).
func (e *encrypted) encodeHeader(key Key, name, v string) (string, error) {
	if e.keys != nil && mayHoldPAN(v) && messages.MaskPANs(v) != v {
		sealed, err := e.keys.sealAlways([]byte(v), rowData(sealedHeaderKind+name, key))
		if err != nil {
			return "", err
		}
		return sealedHeader + base64.StdEncoding.EncodeToString(sealed), nil
	}
	if strings.HasPrefix(v, headerMark) {
		return escapedHeader + v, nil
	}
	return v, nil
}

// openHeaders returns the headers of key as sent, or the error of the
// first value that cannot be opened. h itself is not changed.
func (e *encrypted) openHeaders(key Key, h map[string]string) (map[string]string, error) {
	var out map[string]string
	for name, v := range h {
		if !strings.HasPrefix(v, headerMark) {
			continue
		}
		w, err := e.decodeHeader(key, name, v)
		if err != nil {
			return nil, fmt.Errorf("%w: header %s of %s: %w", ErrUnreadable, messages.MaskPANs(name), keyText(key), err)
		}
		if out == nil {
			out = maps.Clone(h)
		}
		out[name] = w
	}
	if out == nil {
		return h, nil
	}
	return out, nil
}

// readableHeaders is openHeaders leaving out the values that cannot be
// opened (Transition's answer: see Store.Transition).
func (e *encrypted) readableHeaders(key Key, h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for name, v := range h {
		if w, err := e.decodeHeader(key, name, v); err == nil {
			out[name] = w
		}
	}
	return out
}

// decodeHeader is header name's value as sent, from its stored form v.
func (e *encrypted) decodeHeader(key Key, name, v string) (string, error) {
	if rest, ok := strings.CutPrefix(v, escapedHeader); ok {
		return rest, nil
	}
	rest, ok := strings.CutPrefix(v, sealedHeader)
	if !ok {
		// Recorded as sent by a version before headers were sealed.
		return v, nil
	}
	sealed, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("decrypt: sealed value is not base64: %w", err)
	}
	if e.keys == nil {
		return "", ErrSealed
	}
	pt, err := e.keys.openSealed(sealed, rowData(sealedHeaderKind+name, key), false)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// panSeparator marks the ASCII separators MaskPANs takes between groups.
var panSeparator = func() (t [256]bool) {
	for _, c := range []byte(" \t-._/") {
		t[c] = true
	}
	return t
}()

// panDigits is the fewest digits of a card number (messages.MaskPANs).
const panDigits = 13

// mayHoldPAN reports whether v has a run of at least 13 digits in which
// only separators (space, tab, '-', '.', '_', '/', no-break space) come
// between them: a cheap scan that every value messages.MaskPANs would
// change passes (it takes at most three separators between groups), so
// that the costlier MaskPANs runs only on those (a trace id's many short
// digit runs cost it microseconds).
func mayHoldPAN(v string) bool {
	n := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			if n++; n >= panDigits {
				return true
			}
		case panSeparator[c]:
		case c == 0xc2 && i+1 < len(v) && v[i+1] == 0xa0: // U+00A0
			i++
		default:
			n = 0
		}
	}
	return false
}

package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrNotJSONText marks CheckJSONText's error: a reply that is not JSON
// text a reader can trust.
var ErrNotJSONText = errors.New("not JSON text")

// CheckJSONText refuses a JSON reply that encoding/json would read with
// U+FFFD in place of what was sent, without a word: a byte that is not
// UTF-8 (RFC 8259: JSON text is UTF-8) or a \u escape of a lone surrogate
// (\ud800 to \udfff not in a high-low pair; I-JSON, RFC 7493, refuses it).
// Read so, an id or a merchantRefNum echoed as "R\ud800" is the worker's
// own "R\uFFFD", and a reason its provider never wrote is published in an
// R: a reply with either is no answer (the XML decoders refuse a character
// reference to a surrogate the same way, messages.decodeXML).
//
// It never allocates on a reply without a fault: utf8.Valid, and the
// escapes are looked at only when the reply holds a backslash-u.
// The error names the fault and its byte offset, never the reply's text.
func CheckJSONText(data []byte) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: a byte that is not UTF-8 at offset %d", ErrNotJSONText, invalidUTF8At(data))
	}
	if !bytes.Contains(data, backslashU) {
		return nil
	}
	// In JSON text a backslash is only ever in a string, where it starts
	// an escape of two bytes or (\u) of six: the escapes are read in order
	// from the first backslash. A reply that is not JSON is left to the
	// decoder, which refuses it.
	for i := bytes.IndexByte(data, '\\'); i >= 0 && i+1 < len(data); {
		next := i + 2
		if data[i+1] == 'u' {
			u, ok := hex4(data, i+2)
			switch {
			case !ok:
			case u >= 0xD800 && u <= 0xDBFF:
				low, ok := uint16(0), false
				if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					low, ok = hex4(data, i+8)
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return fmt.Errorf("%w: a lone surrogate escape (high, \\u%04x) at offset %d", ErrNotJSONText, u, i)
				}
				next = i + 12
			case u >= 0xDC00 && u <= 0xDFFF:
				return fmt.Errorf("%w: a lone surrogate escape (low, \\u%04x) at offset %d", ErrNotJSONText, u, i)
			default:
				next = i + 6
			}
		}
		j := bytes.IndexByte(data[min(next, len(data)):], '\\')
		if j < 0 {
			break
		}
		i = next + j
	}
	return nil
}

// UnmarshalReply is json.Unmarshal of a provider's JSON reply, refused
// first (an error wrapping ErrNotJSONText) when CheckJSONText refuses it.
// Every JSON provider decodes its replies with it: the refusal is then
// classified as that provider classifies any reply it cannot read
// (transient for a call that may have moved money, never a verdict).
func UnmarshalReply(data []byte, v any) error {
	if err := CheckJSONText(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// NotJSONTextDetail is ": " and err's text when err is CheckJSONText's
// (which names no byte of the reply), for a reason that quotes no other
// decoding error; otherwise "".
func NotJSONTextDetail(err error) string {
	if errors.Is(err, ErrNotJSONText) {
		return ": " + err.Error()
	}
	return ""
}

var backslashU = []byte(`\u`)

// hex4 reads four hex digits at data[i:].
func hex4(data []byte, i int) (uint16, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var u uint16
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(c)
	}
	return u, true
}

// invalidUTF8At is the offset of data's first byte that is not UTF-8.
func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

package webhook

import (
	"bytes"
	"encoding/xml"
	"errors"
)

// errFault is a 2xx answer whose body is a Fault: the receiver says it
// failed, whatever the status code.
var errFault = errors.New("webhook answered 2xx with a Fault")

// isFault reports whether body is an XML document whose root element is
// Fault (in any namespace): the failure answer of Radial's APIs, which a
// receiver in their style may send with HTTP 200. Anything else (no body,
// text, JSON, another document) is not.
func isFault(body []byte) bool {
	_, ok := faultCode(body)
	return ok
}

// faultCode returns the Code of a Fault document, and whether body is one.
func faultCode(body []byte) (string, bool) {
	dec := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))))
	dec.Strict = false
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "Fault" {
				return "", false
			}
			var f struct {
				Code string `xml:"Code"`
			}
			_ = dec.DecodeElement(&f, &t)
			return f.Code, true
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return "", false
			}
		}
	}
}

package miva

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// params are a request's parameters with lower-case names: Miva parameter
// names are case-insensitive (the seed's example sends "Store_code", the
// official SDKs "Store_Code").
type params map[string]any

// apiError is a {"success":0} answer.
type apiError struct {
	code, message string
	// business marks refusals of a valid request (counted as declined).
	business bool
}

func newErr(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

func declined(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...), business: true}
}

// parseParams decodes a JSON object with numbers kept as json.Number.
func parseParams(body []byte) (params, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("the body is not a JSON object")
	}
	if dec.More() {
		return nil, fmt.Errorf("the body has data after the JSON object")
	}
	p := make(params, len(raw))
	for k, v := range raw {
		p[strings.ToLower(k)] = v
	}
	return p, nil
}

// str returns a string parameter ("" when absent or not a string).
func (p params) str(name string) string {
	s, _ := p[strings.ToLower(name)].(string)
	return s
}

// int64Param reads an integer parameter given as a JSON number or a string.
func (p params) int64Param(name string, required bool) (int64, bool, *apiError) {
	v, ok := p[strings.ToLower(name)]
	if !ok || v == nil {
		if required {
			return 0, false, newErr(CodeMissingParameter, "%s is required", name)
		}
		return 0, false, nil
	}
	var text string
	switch t := v.(type) {
	case json.Number:
		text = t.String()
	case string:
		text = strings.TrimSpace(t)
	default:
		return 0, false, newErr(CodeInvalidParameter, "%s must be an integer", name)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, false, newErr(CodeInvalidParameter, "%s must be an integer", name)
	}
	return n, true, nil
}

// amountParam reads an optional positive decimal parameter exactly.
func (p params) amountParam(name, currency string) (decimal.Decimal, bool, *apiError) {
	v, ok := p[strings.ToLower(name)]
	if !ok || v == nil {
		return decimal.Decimal{}, false, nil
	}
	var text string
	switch t := v.(type) {
	case json.Number:
		text = t.String()
	case string:
		text = strings.TrimSpace(t)
	default:
		return decimal.Decimal{}, false, newErr(CodeInvalidParameter, "%s must be a number", name)
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return decimal.Decimal{}, false, newErr(CodeInvalidParameter, "%s must be a number", name)
	}
	if !d.IsPositive() {
		return decimal.Decimal{}, false, newErr(CodeInvalidParameter, "%s must be greater than zero", name)
	}
	if !fitsExponent(d, currency) {
		return decimal.Decimal{}, false, newErr(CodeInvalidParameter, "%s %s has more decimals than %s allows", name, text, currency)
	}
	return d, true, nil
}

package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Walker checks the object keys of a JSON body against the struct types it
// decodes into. Its zero value refuses unknown keys and keys twice and
// leaves a body that is not JSON to the decoder; set Refused before use.
// A Walker is not changed by Check and may be used by many goroutines.
type Walker struct {
	// SkipUnknown skips a key that is not the exact json name of a field,
	// with its value, unless it differs from one only in case (refused,
	// CaseOnly). False refuses every such key (Unknown).
	SkipUnknown bool
	// Leaves are struct types whose value is read whole (a type with its
	// own UnmarshalJSON): an object there is skipped, not checked.
	Leaves []reflect.Type
	// String, when set, checks each string value read where the type
	// expects a value, at its path ("amount.value", "shipmentData[0].
	// shippedDate", "" for the body). Keys are not checked, nor strings
	// inside a skipped value.
	String func(path, s string) error
	// Malformed, when set, builds the error for a body that is not JSON
	// from the decoder's error. When nil the walk stops there and Check
	// returns nil: the body is left to the decoder, which says why.
	Malformed func(err error) error
	// Refused builds the error for a refused key.
	Refused func(Refusal) error
}

// Reason says why a key is refused.
type Reason int

// The reasons a key is refused.
const (
	// Unknown: the key is not the exact json name of a field (only
	// without SkipUnknown).
	Unknown Reason = iota + 1
	// Twice: the key names a field an earlier key of the object named.
	Twice
	// CaseOnly: the key differs from a field's json name only in case
	// (only with SkipUnknown; without, such a key is Unknown).
	CaseOnly
)

// Refusal is one refused key.
type Refusal struct {
	Reason Reason
	// Key is the key as sent.
	Key string
	// In is the path of the object that holds the key: "" for the body,
	// "amount", "shipmentData[1]".
	In string
	// At is the key's own path: In and Key joined with a dot.
	At string
	// Field is the json name that Key differs from only in case
	// (CaseOnly).
	Field string
}

// errLeft stops a walk where the body is not JSON and Malformed is nil. A
// walk must stop at the first failed read: the decoder fails every read
// after it in the same way, so a loop over an array's elements that went on
// would never end.
var errLeft = errors.New("jsonkeys: not JSON, left to the decoder")

// Check walks the first JSON value of body with the type t it decodes into
// (pointers are followed) and returns the first refusal, String or
// Malformed error, or nil. What follows the value is not read.
func (w *Walker) Check(body []byte, t reflect.Type) error {
	err := w.value(json.NewDecoder(bytes.NewReader(body)), t, "")
	if errors.Is(err, errLeft) {
		return nil
	}
	return err
}

// malformed is the error for a failed read.
func (w *Walker) malformed(err error) error {
	if w.Malformed == nil {
		return errLeft
	}
	return w.Malformed(err)
}

// value checks the next value, which decodes into t, at path.
func (w *Walker) value(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return w.malformed(err)
	}
	delim, ok := tok.(json.Delim)
	switch {
	case !ok:
		if s, isString := tok.(string); isString && w.String != nil {
			return w.String(path, s)
		}
		return nil
	case delim == '{' && t.Kind() == reflect.Struct && !slices.Contains(w.Leaves, t):
		return w.object(dec, t, path)
	case delim == '[' && t.Kind() == reflect.Slice:
		for i := 0; dec.More(); i++ {
			if err := w.value(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return w.end(dec)
	}
	return w.skip(dec, 1)
}

// object checks the keys and values of an object whose '{' was read, which
// decodes into the struct type t.
func (w *Walker) object(dec *json.Decoder, t reflect.Type, path string) error {
	fs := fieldsOf(t)
	seen := make([]bool, len(fs.names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return w.malformed(err)
		}
		key, _ := tok.(string)
		r := Refusal{Key: key, In: path, At: key}
		if path != "" {
			r.At = path + "." + key
		}
		i, known := fs.index[key]
		switch {
		case known && seen[i]:
			r.Reason = Twice
			return w.Refused(r)
		case known:
			seen[i] = true
			if err := w.value(dec, fs.types[i], r.At); err != nil {
				return err
			}
			continue
		case !w.SkipUnknown:
			r.Reason = Unknown
			return w.Refused(r)
		}
		for _, name := range fs.names {
			if strings.EqualFold(name, key) {
				r.Reason, r.Field = CaseOnly, name
				return w.Refused(r)
			}
		}
		if err := w.skip(dec, 0); err != nil {
			return err
		}
	}
	return w.end(dec)
}

// end reads the '}' or ']' that closes an object or array.
func (w *Walker) end(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return w.malformed(err)
	}
	return nil
}

// skip reads tokens until depth open delimiters are closed; with depth 0
// it reads one whole value.
func (w *Walker) skip(dec *json.Decoder, depth int) error {
	for first := true; first || depth > 0; first = false {
		tok, err := dec.Token()
		if err != nil {
			return w.malformed(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// fields are the json names of a struct's fields, in field order, with
// their types. A name is the json tag's up to its first comma, or the Go
// name when that is empty; unexported fields and json:"-" have none.
// Embedded structs are not promoted: their fields are the embedded type's.
type fields struct {
	names []string
	types []reflect.Type
	index map[string]int
}

// fieldCache holds the fields of each struct type walked (reflect.Type to
// *fields): a request type is walked for every request.
var fieldCache sync.Map

// fieldsOf returns the fields of the struct type t.
func fieldsOf(t reflect.Type) *fields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fields)
	}
	fs := &fields{index: make(map[string]int, t.NumField())}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if j, twice := fs.index[name]; twice {
			fs.types[j] = f.Type // the last field of a name, as before
			continue
		}
		fs.index[name] = len(fs.names)
		fs.names = append(fs.names, name)
		fs.types = append(fs.types, f.Type)
	}
	actual, _ := fieldCache.LoadOrStore(t, fs)
	return actual.(*fields)
}

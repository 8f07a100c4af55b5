package messages

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// strictReader passes the tokens of a document through (an
// xml.TokenReader over a decoder: its namespace-resolved tokens, or, for
// decodeOnce's xml.NewTokenDecoder, its raw ones, see raw) and refuses what
// encoding/xml would quietly merge, which the schema refuses:
//
//   - an element outside Namespace (a foreign namespace, or a prefix bound
//     to none): Unmarshal matches fields by local name in any namespace, so
//     <x:Amount xmlns:x="urn:ext"> would fill Amount;
//   - an attribute repeated by local name on one element (not well-formed
//     XML, and Unmarshal keeps the first);
//   - a second occurrence of a child element that maps to a single-valued
//     field of the Go type being decoded (maxOccurs 1: Unmarshal keeps the
//     last element's text and the first one's attributes, so <Amount
//     currencyCode="KWD">1.000</Amount><Amount>1000</Amount> read as KWD
//     1000);
//   - an element inside one whose Go type holds text (a string field, or a
//     struct with a chardata field such as Amount): the schema gives those
//     simple content, and Unmarshal skips the child and joins the text on
//     either side of it, so <Amount currencyCode="USD">1<x>9</x>0.00</Amount>
//     read as 10.00 while the document's text is 190.00. Comments and
//     processing instructions in the text are no elements: still accepted;
//   - an attribute the Go type reads (currencyCode, requestId, isToken...)
//     written with a prefix: Unmarshal matches attributes by local name in
//     any namespace, so <Amount o:currencyCode="USD"> read as USD while the
//     schema's attributes are unqualified and it has no currencyCode.
//     Prefixed attributes the type does not read (xsi:schemaLocation) are
//     left alone.
//
// Elements the type does not know are left to Unmarshal (it skips them),
// checked only for their namespace and attributes.
type strictReader struct {
	dec   *xml.Decoder
	root  reflect.Type
	stack []strictFrame
	err   *ParseError
	// raw is set for a reader under xml.NewTokenDecoder (decodeOnce): it
	// reads the inner decoder's RawToken and passes the tokens on as
	// read, prefixes and all, so that the outer decoder resolves the
	// namespaces and matches the end elements once (with Token, each
	// token was translated, matched and boxed by both decoders). The
	// reader resolves the names it checks itself (bindings).
	raw      bool
	bindings []nsBinding
}

// nsBinding is a namespace prefix ("" for the default namespace) bound by
// an open element's xmlns attribute.
type nsBinding struct{ prefix, url string }

// strictFrame is an open element: the fields of its Go type (nil when the
// type is not a struct or the element is unknown) and the single-valued
// children seen so far.
type strictFrame struct {
	name   string
	fields map[string]bool // child element name → repeatable (a slice)
	types  map[string]reflect.Type
	index  map[string]int // child element name → its bit in seenBits
	// seenBits and seen are the single-valued children seen so far: a bit
	// each for the first 64 of the type's children (no allocation), the
	// names of the others.
	seenBits uint64
	seen     []string
	// text is set when the element's Go type holds text (elements.text):
	// it may have no child element.
	text bool
	// bound is how many bindings the element's attributes added (raw).
	bound int
}

func newStrictReader(dec *xml.Decoder, root reflect.Type) *strictReader {
	return &strictReader{dec: dec, root: root}
}

// newRawStrictReader is a strictReader for xml.NewTokenDecoder: the
// tokens it returns are dec's raw tokens (strictReader.raw).
func newRawStrictReader(dec *xml.Decoder, root reflect.Type) *strictReader {
	return &strictReader{dec: dec, root: root, raw: true, stack: make([]strictFrame, 0, 8)}
}

// Token implements xml.TokenReader.
func (r *strictReader) Token() (xml.Token, error) {
	if r.raw {
		return r.rawToken()
	}
	tok, err := r.dec.Token()
	if err != nil {
		return tok, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if perr := r.start(t, 0); perr != nil {
			r.err = perr
			return nil, perr
		}
	case xml.EndElement:
		if n := len(r.stack); n > 0 {
			r.stack = r.stack[:n-1]
		}
	}
	return tok, nil
}

// rawToken is Token for a raw reader: the element is checked under its
// resolved names, and passed on as read.
func (r *strictReader) rawToken() (xml.Token, error) {
	tok, err := r.dec.RawToken()
	if err != nil {
		return tok, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		bound := 0
		for _, a := range t.Attr {
			switch {
			case a.Name.Space == "xmlns":
				r.bindings = append(r.bindings, nsBinding{a.Name.Local, a.Value})
				bound++
			case a.Name.Space == "" && a.Name.Local == "xmlns":
				r.bindings = append(r.bindings, nsBinding{"", a.Value})
				bound++
			}
		}
		resolved := xml.StartElement{Name: r.resolve(t.Name, true)}
		if len(t.Attr) > 0 {
			resolved.Attr = make([]xml.Attr, len(t.Attr))
			for i, a := range t.Attr {
				resolved.Attr[i] = xml.Attr{Name: r.resolve(a.Name, false), Value: a.Value}
			}
		}
		if perr := r.start(resolved, bound); perr != nil {
			r.err = perr
			return nil, perr
		}
	case xml.EndElement:
		if n := len(r.stack); n > 0 {
			r.bindings = r.bindings[:len(r.bindings)-r.stack[n-1].bound]
			r.stack = r.stack[:n-1]
		}
	}
	return tok, nil
}

// resolve is what xml.Decoder.Token makes of a raw name: its prefix
// replaced by the namespace bound to it (the default namespace for an
// element without one), "xml" by the XML namespace; xmlns declarations,
// unprefixed attributes and unbound prefixes stay as they are.
func (r *strictReader) resolve(n xml.Name, element bool) xml.Name {
	switch {
	case n.Space == "xmlns":
		return n
	case n.Space == "" && !element:
		return n
	case n.Space == "xml":
		n.Space = xmlNamespace
	case n.Space == "" && n.Local == "xmlns":
		return n
	}
	for i := len(r.bindings) - 1; i >= 0; i-- {
		if r.bindings[i].prefix == n.Space {
			n.Space = r.bindings[i].url
			return n
		}
	}
	return n
}

// xmlNamespace is the namespace the "xml" prefix is bound to.
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

func (r *strictReader) start(t xml.StartElement, bound int) *ParseError {
	if t.Name.Space != Namespace {
		return &ParseError{Msg: fmt.Sprintf("element %s is not in namespace %s (every element of a settlement document is)", describeName(t.Name), Namespace)}
	}
	if name, twice := repeatedAttr(t.Attr); twice {
		return &ParseError{Msg: fmt.Sprintf("element %s has the attribute %s twice", t.Name.Local, name)}
	}
	var typ reflect.Type
	if len(r.stack) == 0 {
		typ = r.root
	} else {
		parent := &r.stack[len(r.stack)-1]
		if parent.text {
			return &ParseError{Msg: fmt.Sprintf("element %s inside %s, whose content is text only (the schema's simple content): its text would be read without the element's", t.Name.Local, parent.name)}
		}
		if parent.fields != nil {
			repeatable, known := parent.fields[t.Name.Local]
			if known && !repeatable {
				if parent.saw(t.Name.Local) {
					return &ParseError{Msg: fmt.Sprintf("element %s appears twice in %s, which allows it once", t.Name.Local, parent.name)}
				}
			}
			typ = parent.types[t.Name.Local]
		}
	}
	e := childElements(typ)
	for _, a := range t.Attr {
		if a.Name.Space != "" && !isNamespaceDecl(a) && e.attrs[a.Name.Local] {
			return &ParseError{Msg: fmt.Sprintf("attribute %s of element %s is in namespace %s: the schema's %s has none (write it without a prefix)", a.Name.Local, t.Name.Local, a.Name.Space, a.Name.Local)}
		}
	}
	r.stack = append(r.stack, strictFrame{name: t.Name.Local, fields: e.repeatable, types: e.types, index: e.index, text: e.text, bound: bound})
	return nil
}

// saw records the single-valued child name as seen in f and reports
// whether it was seen before.
func (f *strictFrame) saw(name string) bool {
	if i, ok := f.index[name]; ok && i < 64 {
		bit := uint64(1) << i
		before := f.seenBits&bit != 0
		f.seenBits |= bit
		return before
	}
	if slices.Contains(f.seen, name) {
		return true
	}
	f.seen = append(f.seen, name)
	return false
}

// fewAttrs is the most attributes repeatedAttr compares pair by pair; above
// it a set is cheaper. Comparing every pair of an element's attributes took
// quadratic time: one element with 100,000 attributes (a 1 MiB body) kept a
// core busy for about 18 s.
const fewAttrs = 16

// repeatedAttr returns the local name of the first attribute (namespace
// declarations aside) whose local name an earlier one has, in linear time.
func repeatedAttr(attrs []xml.Attr) (string, bool) {
	if len(attrs) <= fewAttrs {
		for i, a := range attrs {
			if isNamespaceDecl(a) {
				continue
			}
			for _, b := range attrs[:i] {
				if !isNamespaceDecl(b) && b.Name.Local == a.Name.Local {
					return a.Name.Local, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]struct{}, len(attrs))
	for _, a := range attrs {
		if isNamespaceDecl(a) {
			continue
		}
		if _, twice := seen[a.Name.Local]; twice {
			return a.Name.Local, true
		}
		seen[a.Name.Local] = struct{}{}
	}
	return "", false
}

// isNamespaceDecl reports whether a is an xmlns or xmlns:prefix declaration.
func isNamespaceDecl(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

// childElements lists the child elements encoding/xml maps to fields of t
// (a struct, or a pointer to one): whether each is repeatable (a slice
// field) and the type its content decodes into; the attributes it maps to
// fields; and whether t holds text. Zero (no child, no text) for nil: an
// element the type does not know.
func childElements(t reflect.Type) elements {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return elements{}
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return elements{text: true} // no message has a float
	case reflect.Struct:
	default:
		return elements{}
	}
	if c, ok := elementCache.Load(t); ok {
		return c.(elements)
	}
	e := elements{repeatable: map[string]bool{}, types: map[string]reflect.Type{}, index: map[string]int{}, attrs: map[string]bool{}}
	addElements(t, &e)
	elementCache.Store(t, e)
	return e
}

// elements is what encoding/xml maps onto a Go type: its child elements,
// its attributes and whether it holds text.
type elements struct {
	repeatable map[string]bool
	types      map[string]reflect.Type
	index      map[string]int  // child element name → its position among them
	attrs      map[string]bool // local names of the attribute fields
	// text is set when encoding/xml reads the element as text: a string,
	// integer or boolean, or a struct with a chardata field. The schema
	// gives those simple content.
	text bool
}

var elementCache sync.Map // reflect.Type → elements

func addElements(t reflect.Type, e *elements) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("xml")
		if tag == "-" || f.Name == "XMLName" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addElements(ft, e)
			}
			continue
		}
		if f.IsExported() && hasOpt(opts, "attr") && !hasOpt(opts, "any") {
			if i := strings.LastIndexByte(name, ' '); i >= 0 { // "namespace local"
				name = name[i+1:]
			}
			if name == "" {
				name = f.Name
			}
			e.attrs[name] = true
			continue
		}
		if f.IsExported() && hasOpt(opts, "chardata", "cdata") {
			e.text = true
			continue
		}
		if !f.IsExported() || hasOpt(opts, "attr", "chardata", "innerxml", "comment", "any", "cdata") {
			continue
		}
		if i := strings.LastIndexByte(name, ' '); i >= 0 { // "namespace Local"
			name = name[i+1:]
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		repeatable := ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8
		if repeatable {
			ft = ft.Elem()
		}
		if _, dup := e.index[name]; !dup {
			e.index[name] = len(e.index)
		}
		e.repeatable[name] = repeatable
		e.types[name] = ft
	}
}

func hasOpt(opts string, names ...string) bool {
	for _, o := range strings.Split(opts, ",") {
		for _, n := range names {
			if o == n {
				return true
			}
		}
	}
	return false
}

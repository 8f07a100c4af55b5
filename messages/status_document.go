package messages

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ValidateStatusDocument checks an encoded PaymentSettlementStatus, or a
// PaymentSettlementStatusList, as a client validating it against Radial's
// checkout/1.0 schema would: the document structure (root element and
// namespace, the children of each element in the schema's order, each at
// most once, no element, attribute or text the schema does not declare)
// and then every value rule of PaymentSettlementStatus.Validate (the
// context choice and its ids, TenderType, Amount and its currencyCode,
// SettlementType, SettlementStatus, StoreId).
//
// It is the worker's check of its own output: a status is recorded,
// published or POSTed only when this returns nil. It is stricter than the
// decoders, which tolerate unknown elements in what Radial sends. A body
// that is not a status document at all is a *ParseError; broken rules are
// ValidationErrors, every one at once.
func ValidateStatusDocument(body []byte) error {
	body = bytes.TrimPrefix(body, utf8BOM)
	root := rootName(body)
	switch root {
	case xml.Name{Space: Namespace, Local: rootSettlementStatus}, xml.Name{Space: Namespace, Local: rootStatusList}:
		if err := checkXML(body, root.Local); err != nil {
			return err
		}
	default:
		// checkXML says what is wrong: empty, not XML, a DOCTYPE, or
		// another root, which is reported naming both accepted roots.
		err := checkXML(body, rootSettlementStatus)
		var pe *ParseError
		if err == nil || (errors.As(err, &pe) && strings.HasPrefix(pe.Msg, "root element is ")) {
			return &ParseError{Msg: fmt.Sprintf("root element is %s, expected %s or %s in namespace %s",
				describeName(root), rootSettlementStatus, rootStatusList, Namespace)}
		}
		return err
	}
	tree, err := parseElements(body)
	if err != nil {
		return err
	}
	v := &validator{}
	if root.Local == rootSettlementStatus {
		v.statusElement(rootSettlementStatus, tree)
		s, err := DecodeSettlementStatus(body)
		if err != nil {
			// The decoder refuses what the structure check reports
			// (an element twice, or outside the namespace): its
			// reasons, all of them, say more.
			if len(v.errs) > 0 {
				return v.result()
			}
			return err
		}
		v.status(rootSettlementStatus, s)
		return v.result()
	}
	v.elementOnly(rootStatusList, tree)
	n := 0
	for _, c := range tree.children {
		if c.name == (xml.Name{Space: Namespace, Local: rootSettlementStatus}) {
			v.statusElement(indexed(rootStatusList+"/"+rootSettlementStatus, n), c)
			n++
			continue
		}
		v.fail(rootStatusList+"/"+c.name.Local, "is not an element of %s (only %s)", rootStatusList, rootSettlementStatus)
	}
	if n == 0 {
		v.fail(rootStatusList+"/"+rootSettlementStatus, ruleAtLeastOne)
	}
	l, err := DecodeStatusList(body)
	if err != nil {
		if len(v.errs) > 0 {
			return v.result()
		}
		return err
	}
	for i := range l.Statuses {
		v.status(indexed(rootStatusList+"/"+rootSettlementStatus, i), &l.Statuses[i])
	}
	return v.result()
}

// element is a parsed element of a document whose structure is checked.
type element struct {
	name     xml.Name
	attrs    []xml.Attr
	text     bool // has non-white-space text of its own
	children []*element
}

// rootName returns the resolved name of the first element, or a zero Name.
func rootName(body []byte) xml.Name {
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.Name{}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t.Name
		case xml.Directive:
			return xml.Name{}
		}
	}
}

// parseElements reads a document already accepted by checkXML into a tree.
func parseElements(body []byte) (*element, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var root *element
	var stack []*element
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &ParseError{Msg: "body is not well-formed XML", Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &element{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				root = e
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			// XML white space only: the schema collapses nothing else.
			if len(stack) > 0 && len(bytes.Trim(t, " \t\r\n")) > 0 {
				stack[len(stack)-1].text = true
			}
		}
	}
	if root == nil {
		return nil, &ParseError{Msg: "body has no root element"}
	}
	return root, nil
}

// particle is one step of an element's content model: an element, or a
// choice of elements, that may appear at most once.
type particle struct {
	names []string // the element, or the elements of a choice
}

// Content models and attributes of the status schema. Required elements and
// the context choice are checked by the value rules (status, contexts), so
// that each problem is reported once.
var (
	statusContent = []particle{
		{[]string{"PaymentContext", "PaymentContextBase"}},
		{[]string{"TenderType"}}, {[]string{"Amount"}}, {[]string{"SettlementType"}},
		{[]string{"SettlementStatus"}}, {[]string{"DeclineReason"}}, {[]string{"ClientContext"}},
		{[]string{"StoreId"}},
	}
	paymentContextContent     = []particle{{[]string{"OrderId"}}, {[]string{"PaymentAccountUniqueId"}}}
	paymentContextBaseContent = []particle{{[]string{"OrderId"}}}
	// complexElements have element-only content of their own.
	complexElements = map[string]bool{"PaymentContext": true, "PaymentContextBase": true}
	// simpleAttributes lists the attributes of the elements with simple
	// content; an element not listed has none.
	simpleAttributes = map[string][]string{
		"Amount":                 {"currencyCode"},
		"PaymentAccountUniqueId": {"isToken"},
	}
)

// statusElement checks the structure of a PaymentSettlementStatus element.
func (v *validator) statusElement(p string, e *element) {
	v.sequence(p, e, statusContent)
	for _, c := range e.children {
		switch c.name.Local {
		case "PaymentContext":
			v.sequence(p+"/PaymentContext", c, paymentContextContent)
		case "PaymentContextBase":
			v.sequence(p+"/PaymentContextBase", c, paymentContextBaseContent)
		}
	}
}

// elementOnly checks that an element with element-only content has neither
// text nor attributes (namespace declarations aside).
func (v *validator) elementOnly(p string, e *element) {
	if e.text {
		v.fail(p, "has text outside its child elements")
	}
	v.attributes(p, e, nil)
}

// sequence checks the children of an element with element-only content
// against its content model: each child is an element of the model, in the
// model's namespace, appears at most once, and comes in the model's order.
// Elements with simple content get their own check (simple).
func (v *validator) sequence(p string, e *element, model []particle) {
	v.elementOnly(p, e)
	step := func(local string) int {
		for i, pt := range model {
			for _, n := range pt.names {
				if n == local {
					return i
				}
			}
		}
		return -1
	}
	seen := map[string]int{}
	last, lastName := -1, ""
	for _, c := range e.children {
		cp := p + "/" + c.name.Local
		i := step(c.name.Local)
		if c.name.Space != Namespace || i < 0 {
			v.fail(cp, "is not an element of %s", e.name.Local)
			continue
		}
		seen[c.name.Local]++
		if seen[c.name.Local] == 2 {
			v.fail(cp, "appears %s times; the schema allows it once", strconv.Itoa(count(e, c.name)))
		}
		if i < last {
			v.fail(cp, "is out of the schema's order: it must come before %s (%s)", lastName, order(model))
		} else if i > last {
			last, lastName = i, c.name.Local
		}
		switch {
		case complexElements[c.name.Local]:
			// Checked with its own content model (statusElement).
		case len(c.children) > 0:
			v.fail(cp, "must hold text, not elements")
		default:
			v.attributes(cp, c, simpleAttributes[c.name.Local])
		}
	}
}

// count returns how many children of e are named n.
func count(e *element, n xml.Name) int {
	k := 0
	for _, c := range e.children {
		if c.name == n {
			k++
		}
	}
	return k
}

// order describes a content model: "PaymentContext|PaymentContextBase,
// TenderType, ...".
func order(model []particle) string {
	parts := make([]string, len(model))
	for i, pt := range model {
		parts[i] = strings.Join(pt.names, "|")
	}
	return "order: " + strings.Join(parts, ", ")
}

// attributes reports every attribute of e that is not in allowed; namespace
// declarations are not attributes.
func (v *validator) attributes(p string, e *element, allowed []string) {
	for _, a := range e.attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		ok := a.Name.Space == ""
		if ok {
			ok = false
			for _, n := range allowed {
				ok = ok || n == a.Name.Local
			}
		}
		if !ok {
			v.fail(p+"/@"+a.Name.Local, "is not an attribute of %s", e.name.Local)
		}
	}
}

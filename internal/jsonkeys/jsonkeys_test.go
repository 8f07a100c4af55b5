package jsonkeys

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	ID     string `json:"id"`
	Note   string // untagged: known as "Note"
	Skip   string `json:"-"`
	Opt    string `json:",omitempty"` // known as "Opt"
	hidden string
}

type leaf struct{ V string }

type outer struct {
	A    *inner   `json:"a"`
	List []inner  `json:"list"`
	Leaf leaf     `json:"leaf"`
	Arr  [2]inner `json:"arr"` // only slices are walked
}

// refused and malformed are the errors of the test walkers.
type refused struct{ Refusal }

func (r refused) Error() string { return "refused " + r.Key }

type malformed struct{ err error }

func (m malformed) Error() string { return "malformed: " + m.err.Error() }

// walkers returns a strict walker (unknown keys refused, a body that is
// not JSON an error) and a lenient one (unknown keys skipped, leaf, a body
// that is not JSON left to the decoder); both record the strings checked.
func walkers(strings *[]string) (strict, lenient *Walker) {
	record := func(path, s string) error {
		*strings = append(*strings, path+"="+s)
		return nil
	}
	refuse := func(r Refusal) error { return refused{r} }
	strict = &Walker{String: record, Malformed: func(err error) error { return malformed{err} }, Refused: refuse}
	lenient = &Walker{SkipUnknown: true, Leaves: []reflect.Type{reflect.TypeFor[leaf]()}, String: record, Refused: refuse}
	return strict, lenient
}

func TestWalker(t *testing.T) {
	none := Refusal{}
	tests := []struct {
		name, body      string
		strict, lenient Refusal // the refusal of each, none for nil
		strings         string  // the strings checked by the strict walker
	}{
		{"key twice", `{"a":{"id":"1","id":"2"}}`,
			Refusal{Twice, "id", "a", "a.id", ""}, Refusal{Twice, "id", "a", "a.id", ""}, "a.id=1"},
		{"key twice, in two objects", `{"list":[{"id":"1"},{"id":"2"}]}`, none, none, "list[0].id=1 list[1].id=2"},
		{"other case", `{"list":[{},{"ID":1}]}`,
			Refusal{Unknown, "ID", "list[1]", "list[1].ID", ""}, Refusal{CaseOnly, "ID", "list[1]", "list[1].ID", "id"}, ""},
		{"unknown", `{"b":{"id":1,"id":1}}`, Refusal{Unknown, "b", "", "b", ""}, none, ""},
		{"Go names of untagged fields", `{"a":{"Note":"n","Opt":"o"}}`, none, none, "a.Note=n a.Opt=o"},
		{"json:\"-\"", `{"a":{"Skip":1}}`, Refusal{Unknown, "Skip", "a", "a.Skip", ""}, none, ""},
		{"unexported", `{"a":{"hidden":1}}`, Refusal{Unknown, "hidden", "a", "a.hidden", ""}, none, ""},
		{"leaf", `{"leaf":{"V":"1","V":"2"}}`, Refusal{Twice, "V", "leaf", "leaf.V", ""}, none, "leaf.V=1"},
		{"array, not slice", `{"arr":[{"id":1,"id":1}]}`, none, none, ""},
		{"wrong shape", `{"a":["x",{"id":1,"id":1}]}`, none, none, ""},
		{"body string", `"s"`, none, none, "=s"},
		{"after the value", `{"a":{}} {"a":{"id":1,"id":1}}`, none, none, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var checked []string
			strict, lenient := walkers(&checked)
			for _, w := range []struct {
				name string
				w    *Walker
				want Refusal
			}{{"strict", strict, tt.strict}, {"lenient", lenient, tt.lenient}} {
				err := w.w.Check([]byte(tt.body), reflect.TypeFor[outer]())
				var r refused
				switch {
				case w.want == none && err != nil:
					t.Errorf("%s: %v, want nil", w.name, err)
				case w.want != none && !errors.As(err, &r):
					t.Errorf("%s: %v, want %+v", w.name, err, w.want)
				case w.want != none && r.Refusal != w.want:
					t.Errorf("%s: %+v, want %+v", w.name, r.Refusal, w.want)
				}
				if w.name == "strict" && strings.Join(checked, " ") != tt.strings {
					t.Errorf("strings checked %q, want %q", checked, tt.strings)
				}
			}
		})
	}
}

// TestWalkerNotJSON: a body that is not JSON is Malformed's error, or
// with no Malformed nil; the walk stops at the first failed read (an
// array loop that went on would never end: [1 x] fails every read).
func TestWalkerNotJSON(t *testing.T) {
	strict, lenient := walkers(new([]string))
	for _, body := range []string{``, `{`, `{"list":[1 x]}`, `{"list":[{} x]}`, `{"list":[{},]}`, `{"leaf":[1 x]}`, `{"a":{"id":tru}}`, `{"a" 1}`} {
		var m malformed
		if err := strict.Check([]byte(body), reflect.TypeFor[outer]()); !errors.As(err, &m) {
			t.Errorf("strict, body %q: %v, want Malformed's error", body, err)
		}
		if err := lenient.Check([]byte(body), reflect.TypeFor[outer]()); err != nil {
			t.Errorf("lenient, body %q: %v, want nil", body, err)
		}
	}
	// In a skipped unknown key's value too.
	if err := lenient.Check([]byte(`{"b":[1 x]}`), reflect.TypeFor[outer]()); err != nil {
		t.Errorf("lenient, unknown key holding [1 x]: %v, want nil", err)
	}
}

// FuzzWalker: whatever the body, Check returns; Malformed is called only
// for a body that is not JSON; a refusal's reason fits SkipUnknown and its
// At is In and Key joined.
func FuzzWalker(f *testing.F) {
	for _, body := range []string{`{"a":{"id":"1","id":"2"}}`, `{"list":[{},{"ID":1}]}`, `{"leaf":{"V":1}}`, `{"list":[1 x]}`, `{"arr":[{}],"b":{}}`} {
		f.Add([]byte(body))
	}
	strict, lenient := walkers(new([]string))
	strict.String, lenient.String = nil, nil
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, w := range []*Walker{strict, lenient} {
			err := w.Check(body, reflect.TypeFor[outer]())
			var m malformed
			var r refused
			switch {
			case errors.As(err, &m) && json.Valid(body):
				t.Errorf("valid JSON %q: %v", body, err)
			case !errors.As(err, &r):
			case r.Reason == Unknown && w.SkipUnknown, r.Reason == CaseOnly && !w.SkipUnknown:
				t.Errorf("body %q, SkipUnknown %v: %+v", body, w.SkipUnknown, r.Refusal)
			case r.At != r.Key && r.At != r.In+"."+r.Key:
				t.Errorf("body %q: %+v", body, r.Refusal)
			}
		}
	})
}

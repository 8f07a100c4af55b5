package store

import (
	"encoding/json"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// controlChars is every byte encoding/json escapes as a control character
// (0x00–0x1f), plus DEL (0x7f), which it leaves alone.
func controlChars() string {
	var b strings.Builder
	for c := 0; c < 0x20; c++ {
		b.WriteByte(byte(c))
	}
	b.WriteByte(0x7f)
	return b.String()
}

// manyKeys is a map of 40 keys inserted in a random order, so that a
// missing or wrong sort shows up.
func manyKeys() map[string]string {
	keys := []string{"store_id", "tender_type", "Content-Type", "a", "A", "b", "aa", "a0",
		"z", "Z", "_", "-", "0", "10", "9", "é", "e", "f", "日本", "~", "x-request-id",
		"original_authorization_amount", "capture", "auth", "ref", "ref2", "ref10", "ß",
		"\x00", " ", "  ", "a b", "a\tb", "🙂", "\u2028", "<", ">", "&", "\"", "\\"}
	r := rand.New(rand.NewSource(7))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = strings.Repeat(k, i%3) + "v"
	}
	return m
}

// encodeMapCases is the table of TestEncodeMapMatchesJSON; FuzzEncodeMap
// seeds from it too.
var encodeMapCases = []struct {
	name string
	m    map[string]string
}{
	{"empty", map[string]string{}},
	{"nil", nil},
	{"one key", map[string]string{"store_id": "S-1"}},
	{"many keys", manyKeys()},
	{"quotes", map[string]string{`"k"`: `say "hi"`, `'`: `'single'`}},
	{"backslashes", map[string]string{`a\b`: `C:\dir\file`, `\`: `\\`, `\"`: `\u0041`}},
	{"html", map[string]string{"<script>": "</script>", "a&b": "x > y && y < z"}},
	{"control characters", map[string]string{controlChars(): controlChars(), "k": "a\x00b\x1fc\x7fd"}},
	{"named escapes", map[string]string{"\b\f\n\r\t": "line1\nline2\r\n\ttab\bback\fform"}},
	{"line and paragraph separators", map[string]string{"\u2028": "a\u2029b", "x\u2028\u2029y": "\u2028\u2028"}},
	{"invalid UTF-8", map[string]string{"\xff": "a\xc3", "b\xc3": "\xff\xfe", "\xed\xa0\x80": "\xe2\x80", "\xf4\x90\x80\x80": "\xc0\xaf"}},
	{"invalid UTF-8 near separators", map[string]string{"\xe2\x80\xa8\xe2\x80": "\xe2\x80\xa9\xe2"}},
	{"multi-byte UTF-8", map[string]string{"é": "café", "日本": "日本語", "🙂": "👍🏽 emoji", "ÿ": "\u00ff\U0010FFFF"}},
	{"replacement character itself", map[string]string{"\ufffd": "\uFFFD\xff"}},
	{"empty key and value", map[string]string{"": ""}},
	{"empty key, empty value and others", map[string]string{"": "v", "k": "", "z": "z"}},
	{"realistic headers", benchEncodeMapInput()},
}

func TestEncodeMapMatchesJSON(t *testing.T) {
	for _, tc := range encodeMapCases {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeMap(tc.m)
			want := "{}" // encodeMap's own spelling of an empty or nil map
			if len(tc.m) > 0 {
				b, err := json.Marshal(tc.m)
				if err != nil {
					t.Fatalf("json.Marshal: %v", err)
				}
				want = string(b)
			}
			if got != want {
				t.Fatalf("encodeMap(%q)\n got %q\nwant %q", tc.m, got, want)
			}
			back, err := decodeMap(got)
			if err != nil {
				t.Fatalf("decodeMap(%q): %v", got, err)
			}
			if validUTF8Map(tc.m) && !maps.Equal(back, tc.m) && !(len(back) == 0 && len(tc.m) == 0) {
				t.Fatalf("decodeMap(encodeMap(m)) = %q, want %q", back, tc.m)
			}
		})
	}
}

func validUTF8Map(m map[string]string) bool {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

func FuzzEncodeMap(f *testing.F) {
	for _, tc := range encodeMapCases {
		// Two pairs at a time from each table entry, in sorted order.
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(tc.m)) {
			kv = append(kv, k, tc.m[k])
		}
		for len(kv) < 4 {
			kv = append(kv, "")
		}
		for i := 0; i+4 <= len(kv); i += 4 {
			f.Add(kv[i], kv[i+1], kv[i+2], kv[i+3])
		}
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		got := encodeMap(m)
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		if got != string(want) {
			t.Fatalf("encodeMap(%q)\n got %q\nwant %q", m, got, want)
		}
		back, err := decodeMap(got)
		if err != nil {
			t.Fatalf("decodeMap(%q): %v", got, err)
		}
		if validUTF8Map(m) && !maps.Equal(back, m) {
			t.Fatalf("decodeMap(encodeMap(m)) = %q, want %q", back, m)
		}
	})
}

// benchEncodeMapInput is what a registration encodes: a settlement's
// headers and refs are maps of this size and shape.
func benchEncodeMapInput() map[string]string {
	return map[string]string{
		"store_id":                      "store-0042",
		"tender_type":                   "credit_card",
		"original_authorization_amount": "125.40",
		"content-type":                  "application/json; charset=utf-8",
		"x-request-id":                  "9f1c2e7a-5b3d-4c8e-a1f0-6d2b7e9c4a13",
		"user-agent":                    "pos-terminal/4.2 (store-0042; lane 3)",
		"authorization_ref":             "AUTH-20240611-000187",
		"capture_ref":                   "CAP-20240611-000187",
	}
}

var encodeMapSink string

func BenchmarkEncodeMap(b *testing.B) {
	m := benchEncodeMapInput()
	b.ReportAllocs()
	for b.Loop() {
		encodeMapSink = encodeMap(m)
	}
}

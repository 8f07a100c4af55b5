package store

import (
	"encoding/json"
	"maps"
	"testing"
)

// decodeMapTexts are texts decodeMap may meet: what encodeMap writes for
// encodeMapCases (escapes and all), and JSON it never writes (whitespace,
// null, numbers, nesting, broken text), which must read as json.Unmarshal
// reads it.
func decodeMapTexts() []string {
	texts := []string{
		"", "{}", "{ }", " {}", "null", "[]", `""`, "{", "}", `{"a"}`, `{"a":}`, `{"a":"b",}`,
		`{"a":"b"`, `{"a":"b"}x`, `{"a":"b" }`, `{"a" :"b"}`, `{"a":1}`, `{"a":null}`, `{"a":{"b":"c"}}`,
		`{"a":"b","a":"c"}`, `{"a":"b",,"c":"d"}`, `{,}`, `{"":""}`, `{"a":"b\"}`, `{"a":"\u00e9"}`,
		"{\"a\":\"b\x00\"}", "{\"a\":\"\xff\"}", "{\"\xc3\":\"x\"}", "{\"a\":\"\x7f\"}",
		"{\"日本\":\"語\",\"🙂\":\"\u2028\"}", `{"a":"b","c":"d","e":"f"}`, `{"a":"b"}{"c":"d"}`,
	}
	for _, tc := range encodeMapCases {
		texts = append(texts, encodeMap(tc.m))
	}
	return texts
}

// jsonMap is json.Unmarshal into a fresh map, as decodeMap did before it
// read flat text by hand.
func jsonMap(s string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func checkDecodeMap(t *testing.T, s string) {
	t.Helper()
	got, gotErr := decodeMap(s)
	want, wantErr := jsonMap(s)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("decodeMap(%q) error %v, json.Unmarshal's %v", s, gotErr, wantErr)
	}
	if (got == nil) != (want == nil) || !maps.Equal(got, want) {
		t.Fatalf("decodeMap(%q) = %#v, json.Unmarshal gives %#v", s, got, want)
	}
}

func TestDecodeMapMatchesJSON(t *testing.T) {
	for _, s := range decodeMapTexts() {
		checkDecodeMap(t, s)
	}
}

func FuzzDecodeMap(f *testing.F) {
	for _, s := range decodeMapTexts() {
		f.Add(s)
	}
	f.Fuzz(checkDecodeMap)
}

var decodeMapSink map[string]string

func BenchmarkDecodeMap(b *testing.B) {
	s := encodeMap(benchEncodeMapInput())
	b.ReportAllocs()
	for b.Loop() {
		decodeMapSink, _ = decodeMap(s)
	}
}

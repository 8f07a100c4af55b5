package store

import (
	"strings"
	"testing"
)

// findQuery numbers the compared columns in findColumns' order, then the
// states, and gives the same text for the same shape (cached).
func TestFindQueryShapes(t *testing.T) {
	cases := []struct {
		shape findShape
		where string
	}{
		{findShape{}, ""},
		{findShape{fields: 1 << 0}, " WHERE provider = $1"},
		{findShape{fields: 1<<0 | 1<<1 | 1<<2}, " WHERE provider = $1 AND store_id = $2 AND order_id = $3"},
		{findShape{fields: 1<<0 | 1<<7}, " WHERE provider = $1 AND correlation_id = $2"},
		{findShape{fields: 1 << 2, states: 2}, " WHERE order_id = $1 AND state IN ($2, $3)"},
		{findShape{states: 1}, " WHERE state IN ($1)"},
	}
	for _, tc := range cases {
		want := `SELECT ` + settlementColumns + ` FROM settlements` + tc.where + ` ORDER BY created_at, request_id`
		for range 2 {
			if got := findQuery(tc.shape); got != want {
				t.Errorf("findQuery(%+v) = %q, want %q", tc.shape, strings.TrimPrefix(got, `SELECT `+settlementColumns), tc.where)
			}
		}
	}
}

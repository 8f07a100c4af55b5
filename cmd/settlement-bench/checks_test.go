package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckRequests(t *testing.T) {
	s := func(id string) statusEvent { return statusEvent{messageID: id, provider: "radial", status: "S"} }
	ids := []string{"a", "b"}
	one := map[string]int{"a": 1, "b": 1}
	tests := []struct {
		name         string
		events       map[string][]statusEvent
		debits       map[string]int
		verdicts     map[string]int
		duplicates   int
		wantProblems []string // substrings, one per problem, in order
	}{
		{
			name:     "one S and one debit each",
			events:   map[string][]statusEvent{"a": {s("m1")}, "b": {s("m2")}},
			debits:   one,
			verdicts: map[string]int{"S": 2},
		},
		{
			name:       "a redelivered event is a duplicate, not a second S",
			events:     map[string][]statusEvent{"a": {s("m1"), s("m1")}, "b": {s("m2")}},
			debits:     one,
			verdicts:   map[string]int{"S": 2},
			duplicates: 1,
		},
		{
			name:         "two S events of distinct message_id",
			events:       map[string][]statusEvent{"a": {s("m1"), s("m3")}, "b": {s("m2")}},
			debits:       one,
			verdicts:     map[string]int{"S": 1, "S×2+": 1},
			wantProblems: []string{"1 requests with more than one S event"},
		},
		{
			name:         "no event",
			events:       map[string][]statusEvent{"a": {s("m1")}},
			debits:       one,
			verdicts:     map[string]int{"S": 1, "none": 1},
			wantProblems: []string{"1 requests without an S event (b)"},
		},
		{
			name: "an R",
			events: map[string][]statusEvent{"a": {s("m1")}, "b": {
				{messageID: "m2", provider: "radial", status: "R", reason: "declined"},
			}},
			debits:       one,
			verdicts:     map[string]int{"S": 1, "R": 1},
			wantProblems: []string{"without an S event (b)", `with an R event (first: b: R "declined")`},
		},
		{
			name:         "another provider header",
			events:       map[string][]statusEvent{"a": {s("m1")}, "b": {{messageID: "m2", provider: "miva", status: "S"}}},
			debits:       one,
			verdicts:     map[string]int{"S": 2},
			wantProblems: []string{`1 events of radial requests carry another provider header (b ("miva"))`},
		},
		{
			name:         "a missing, a double and a foreign debit",
			events:       map[string][]statusEvent{"a": {s("m1")}, "b": {s("m2")}},
			debits:       map[string]int{"b": 2, "zz": 1},
			verdicts:     map[string]int{"S": 2},
			wantProblems: []string{"1 requests without a ledger debit (a)", "1 requests debited more than once (b ×2)", "1 ledger debits of no request of this provider (zz ×1)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := func(k string) bool { return k == "a" || k == "b" }
			c := checkRequests("radial", ids, tt.events, tt.debits, ours)
			if !reflect.DeepEqual(c.verdicts, tt.verdicts) {
				t.Errorf("verdicts = %v, want %v", c.verdicts, tt.verdicts)
			}
			if c.duplicates != tt.duplicates {
				t.Errorf("duplicates = %d, want %d", c.duplicates, tt.duplicates)
			}
			if len(c.problems) != len(tt.wantProblems) {
				t.Fatalf("problems = %q, want %d matching %q", c.problems, len(tt.wantProblems), tt.wantProblems)
			}
			for i, want := range tt.wantProblems {
				if !strings.Contains(c.problems[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, c.problems[i], want)
				}
			}
		})
	}
}

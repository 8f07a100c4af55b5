package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// misspelt returns a problem for every variable of environ that the worker
// does not read but that is within a typo of one it does (or of its _FILE
// form): caarlos0/env ignores such a variable, and the setting it meant
// would keep its default without a word (STORE_DNS for STORE_DSN: each
// replica on an SQLite file of its own). A typo is a different case
// (radial_api_key), or an edit distance (letters inserted, deleted,
// replaced or two swapped) of 1, 2 for names of 10 characters or more.
// The problems name both variables and quote no value.
func misspelt(environ map[string]string, vars []Var) []error {
	known := make(map[string]bool, 2*len(vars))
	for _, v := range vars {
		known[v.Name], known[v.Name+"_FILE"] = true, true
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(environ)) {
		if known[name] {
			continue
		}
		upper := strings.ToUpper(name)
		best, bestD := "", 3
		for _, n := range names {
			d := 0
			if upper != n {
				limit := 1
				if len(n) >= 10 {
					limit = 2
				}
				if d = editDistance(upper, n, limit); d > limit {
					continue
				}
			}
			if d < bestD {
				best, bestD = n, d
			}
		}
		if best != "" {
			errs = append(errs, fmt.Errorf("%s: is set, but the worker reads no such variable: did you mean %s? "+
				"(a misspelt variable is ignored, and its setting keeps its default; correct it or unset it)", name, best))
		}
	}
	return errs
}

// editDistance is the optimal string alignment distance of a and b (each
// insertion, deletion, replacement or swap of two neighbours counts one),
// or limit+1 as soon as it must exceed limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

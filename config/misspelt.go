package config

import (
	"errors"
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
//
// The names of allow (CONFIG_ALLOW_UNKNOWN: a deployment's platform may set
// such a variable for something else) are left alone, exactly as written;
// a name there that the worker reads, or an empty one, is a problem.
func misspelt(environ map[string]string, vars []Var, allow []string) []error {
	known := make(map[string]bool, 2*len(vars))
	for _, v := range vars {
		known[v.Name], known[v.Name+"_FILE"] = true, true
	}
	var errs []error
	allowed := make(map[string]bool, len(allow))
	for _, a := range allow {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			errs = append(errs, errors.New("CONFIG_ALLOW_UNKNOWN: an empty name in the list; list the variables to leave alone, comma-separated"))
		case known[a]:
			errs = append(errs, fmt.Errorf("CONFIG_ALLOW_UNKNOWN: %s is a variable the worker reads, not a misspelling of one; remove it from the list", a))
		}
		allowed[a] = true
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range slices.Sorted(maps.Keys(environ)) {
		if known[name] || allowed[name] {
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
				"(a misspelt variable is ignored, and its setting keeps its default; correct it or unset it, "+
				"or, if it is set for something else, list it in CONFIG_ALLOW_UNKNOWN)", name, best))
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

package config

import (
	"fmt"
	"strings"
)

// repeatedKeys returns a problem for every map variable of environ (a
// KEY:VALUE,... list) that names a key twice: caarlos0/env keeps the last
// value without a word (PAYSAFE_ACCOUNTS=S1:1001,S1:1002 settled store S1
// against 1002 alone). Keys are compared trimmed; values are not quoted.
func repeatedKeys(environ map[string]string, vars []Var) []error {
	var errs []error
	for _, v := range vars {
		raw, ok := environ[v.Name]
		if !v.isMap || !ok || raw == "" {
			continue
		}
		seen := map[string]bool{}
		for _, entry := range strings.Split(raw, ",") {
			k, _, _ := strings.Cut(entry, ":")
			k = strings.TrimSpace(k)
			if seen[k] {
				errs = append(errs, fmt.Errorf("%s: names %q more than once; give each key one value", v.Name, k))
				break
			}
			seen[k] = true
		}
	}
	return errs
}

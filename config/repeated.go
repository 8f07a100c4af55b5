package config

import (
	"fmt"
	"reflect"
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

// trimMaps trims the keys and values of every map[string]string field of
// the struct v points to (and of the structs it holds): caarlos0/env keeps
// the spaces around "," and ":", so PAYSAFE_ACCOUNTS=S0:1000, S1:1001 gave
// store " S1" an account and store S1 none. repeatedKeys has refused a key
// that repeats once trimmed.
func trimMaps(v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch {
		case f.Kind() == reflect.Struct:
			trimMaps(f.Addr())
		case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String && f.Type().Elem().Kind() == reflect.String && !f.IsNil():
			m := reflect.MakeMapWithSize(f.Type(), f.Len())
			for it := f.MapRange(); it.Next(); {
				k := reflect.ValueOf(strings.TrimSpace(it.Key().String())).Convert(f.Type().Key())
				m.SetMapIndex(k, reflect.ValueOf(strings.TrimSpace(it.Value().String())).Convert(f.Type().Elem()))
			}
			f.Set(m)
		}
	}
}

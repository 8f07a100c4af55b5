// Command secretenv is the entrypoint of the settlement-worker and
// provider-sandbox images: it turns secrets mounted as files into the
// environment variables the programs read, then execs the program (which
// so stays PID 1 and gets SIGTERM directly). The images are distroless,
// with no shell for a wrapper script.
//
//	secretenv /usr/local/bin/settlement-worker [ARG...]
//
// For every variable NAME_FILE=PATH it sets NAME to the file's content
// (one trailing newline removed) and drops NAME_FILE; NAME and NAME_FILE
// both set is an error. Then, in every other variable, ${NAME} for a NAME
// read from a file is replaced by its value, so that a URL can carry a
// password kept in a file:
//
//	RABBITMQ_PASSWORD_FILE=/run/secrets/rabbitmq_password
//	AMQP_URL=amqp://settlement:${RABBITMQ_PASSWORD}@rabbitmq:5672/
//
// The value goes in as it is, not URL-escaped: such passwords must be
// URL-safe ([A-Za-z0-9._~-]). Nothing else is expanded.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: secretenv COMMAND [ARG...]")
		os.Exit(2)
	}
	env, err := resolve(os.Environ(), os.ReadFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretenv:", err)
		os.Exit(1)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretenv:", err)
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args[1:], env)
	fmt.Fprintln(os.Stderr, "secretenv: exec", path+":", err)
	os.Exit(126)
}

var fileVar = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)_FILE$`)

// resolve returns env with the NAME_FILE variables read and the ${NAME}
// references to them replaced. It never puts a secret in an error.
func resolve(env []string, readFile func(string) ([]byte, error)) ([]string, error) {
	vars := map[string]string{}
	var order []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := vars[k]; !dup {
			order = append(order, k)
		}
		vars[k] = v
	}
	secrets := map[string]string{}
	var errs []error
	for _, k := range order {
		m := fileVar.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		name, path := m[1], vars[k]
		if v, set := vars[name]; set && v != "" {
			errs = append(errs, fmt.Errorf("both %s and %s are set", name, k))
			continue
		}
		raw, err := readFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			continue
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: %s is empty", k, path))
			continue
		}
		secrets[name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	names := make([]string, 0, len(secrets))
	for n := range secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, 0, len(order))
	for _, k := range order {
		if m := fileVar.FindStringSubmatch(k); m != nil {
			if _, ok := secrets[m[1]]; ok {
				continue
			}
		}
		if _, ok := secrets[k]; ok {
			continue // set below
		}
		v := vars[k]
		for _, n := range names {
			v = strings.ReplaceAll(v, "${"+n+"}", secrets[n])
		}
		out = append(out, k+"="+v)
	}
	for _, n := range names {
		out = append(out, n+"="+secrets[n])
	}
	return out, nil
}

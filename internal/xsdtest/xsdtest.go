// Package xsdtest validates documents against the reconstructed
// PaymentSettlementStatus schema (messages/testdata/xsd) with xmllint, as an
// independent cross-check of messages.ValidateStatusDocument in tests. When
// xmllint is not installed (Debian: apt-get install -y libxml2-utils) the
// callers skip that cross-check with a message saying so; the Go validator
// remains the runtime check.
package xsdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrNoXMLLint is returned when xmllint is not on PATH.
var ErrNoXMLLint = errors.New("xmllint not found on PATH (Debian: apt-get install -y libxml2-utils); the XSD cross-check is skipped")

// SchemaPath is the absolute path of the reconstructed status schema.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "messages", "testdata", "xsd", "PaymentSettlementStatus.xsd")
}

// Available reports whether xmllint can be run.
func Available() bool {
	_, err := exec.LookPath("xmllint")
	return err == nil
}

// Validate runs xmllint --schema over body. It returns ok=true when the
// document is valid, ok=false with xmllint's diagnostics when it is not, and
// ErrNoXMLLint (or another error) when the check could not run.
func Validate(body []byte) (ok bool, diagnostics string, err error) {
	if !Available() {
		return false, "", ErrNoXMLLint
	}
	cmd := exec.Command("xmllint", "--noout", "--nonet", "--schema", SchemaPath(), "-")
	cmd.Stdin = bytes.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	diag := strings.TrimSpace(out.String())
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return true, diag, nil
	case errors.As(runErr, &exit) && exit.ExitCode() == 3:
		// 3: the document does not validate.
		return false, diag, nil
	case errors.As(runErr, &exit) && exit.ExitCode() == 1 && strings.Contains(diag, "parser error"):
		// 1: not well-formed, hence not valid.
		return false, diag, nil
	default:
		return false, diag, fmt.Errorf("xmllint --schema %s: %v: %s", SchemaPath(), runErr, diag)
	}
}

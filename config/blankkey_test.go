package config_test

import "testing"

// TestBlankEncryptionKeyIsRefused: STORE_ENCRYPTION_KEY set to white space
// only (a template that rendered a newline, a quoted blank) passed as
// unset: store.ParseKeyring trims it to nothing and returns no keyring, so
// request and status bodies, raw card numbers included, were stored in
// clear with only the start-up warning. A key that is set must be a key.
func TestBlankEncryptionKeyIsRefused(t *testing.T) {
	for _, v := range []string{" ", "\n", " \t\r\n"} {
		expectLoad(t, minimal, []string{"STORE_ENCRYPTION_KEY", v}, "STORE_ENCRYPTION_KEY")
	}
	expectLoad(t, minimal, []string{"STORE_ENCRYPTION_KEY", ""}, "") // unset: bodies in clear, with a warning
}

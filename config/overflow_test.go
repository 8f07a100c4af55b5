package config_test

import (
	"testing"
)

// TestStuckAfterCheckDoesNotOverflow: STUCK_AFTER must exceed the longest
// retry delay plus the longest settle window, so that a settlement waiting
// for either is not taken for a stuck one and resumed early. The sum was
// a time.Duration addition: two delays that each parse (up to about 292
// years) could add up past its range to a negative sum, which every
// STUCK_AFTER exceeds, and the check passed.
func TestStuckAfterCheckDoesNotOverflow(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"RETRY_DELAYS", "1500000h", "RADIAL_SETTLE_WINDOW", "1500000h", "STUCK_AFTER", "1h"}, "STUCK_AFTER"},
		{[]string{"RETRY_DELAYS", "2562047h", "RADIAL_SETTLE_WINDOW", "1m", "STUCK_AFTER", "2h"}, "STUCK_AFTER"},
		{[]string{"RETRY_DELAYS", "1h", "RADIAL_SETTLE_WINDOW", "1h", "STUCK_AFTER", "2h1s"}, ""},
	} {
		t.Run(tc.env[1]+"+"+tc.env[3], func(t *testing.T) {
			expectLoad(t, minimal, tc.env, tc.want)
		})
	}
}

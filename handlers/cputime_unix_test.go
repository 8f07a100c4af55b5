//go:build unix

package handlers

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time the process has used
// (every thread), or false where it cannot be read.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

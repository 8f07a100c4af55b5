package worker

import (
	"runtime/debug"
	"strconv"
)

// DefaultGCPercent is the garbage collector's target (GOGC) the worker
// runs with when the GOGC variable does not set one. The worker's heap is
// small (the whole process peaks at 43–46 MiB in the bench), so the
// default of 100 collected it often: the bench measured 12–20 % less CPU
// per settlement at 200, for 3–4 MiB more peak RSS
// (docs/configuration.md). GOGC=100 trades that CPU back for memory;
// GOMEMLIMIT, when set, caps the heap as usual.
const DefaultGCPercent = 200

// TuneGC sets the garbage collector's target to DefaultGCPercent unless
// getenv("GOGC") names one (the runtime has then applied it), and returns
// the target in force, as GOGC spells it.
func TuneGC(getenv func(string) string) string {
	if v := getenv("GOGC"); v != "" {
		return v
	}
	debug.SetGCPercent(DefaultGCPercent)
	return strconv.Itoa(DefaultGCPercent)
}

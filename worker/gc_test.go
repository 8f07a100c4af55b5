package worker

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct {
		gogc, want string
		percent    int // in force after TuneGC
	}{
		{"", "200", DefaultGCPercent},
		{"100", "100", 100}, // the runtime applied GOGC; TuneGC leaves it
		{"off", "off", 100},
	} {
		debug.SetGCPercent(100)
		got := TuneGC(func(k string) string {
			if k == "GOGC" {
				return c.gogc
			}
			return ""
		})
		if got != c.want {
			t.Errorf("GOGC=%q: TuneGC = %q, want %q", c.gogc, got, c.want)
		}
		if p := debug.SetGCPercent(100); p != c.percent {
			t.Errorf("GOGC=%q: GC percent %d, want %d", c.gogc, p, c.percent)
		}
	}
}

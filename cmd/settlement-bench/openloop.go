package main

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// openLoopFraction is the share of the measured maximum rate (the Radial
// 0 ms closed-loop run's throughput) the open-loop run publishes at: issue
// 9's latency target holds at half the maximum.
const openLoopFraction = 0.5

// openLoopPlan is the open-loop run's pacing: the interval between two
// publishes at rate per second, and how many requests that publishes in d
// (at least one).
func openLoopPlan(rate float64, d time.Duration) (interval time.Duration, n int, err error) {
	if rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		return 0, 0, fmt.Errorf("open-loop rate must be positive (got %v)", rate)
	}
	if d <= 0 {
		return 0, 0, errors.New("open-loop duration must be positive")
	}
	interval = time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		return 0, 0, fmt.Errorf("open-loop rate %v per second is too high", rate)
	}
	n = max(int(math.Round(rate*d.Seconds())), 1)
	return interval, n, nil
}

// openLoopRate is the rate of the open-loop run: -openloop-rate when set,
// else openLoopFraction × the Radial 0 ms run's throughput (radial0, 0
// when there is none); source says which, for the report. It is 0 when
// neither is known.
func openLoopRate(flagRate, radial0 float64) (rate float64, source string) {
	switch {
	case flagRate > 0:
		return flagRate, "-openloop-rate"
	case radial0 > 0:
		return openLoopFraction * radial0, fmt.Sprintf("%.2f × the Radial 0 ms run's %s/s", openLoopFraction, fmtRate(radial0))
	}
	return 0, ""
}

// dueBy is how many of n requests paced every interval (request i at
// i × interval after the start, the first at once) are due elapsed after
// the start.
func dueBy(elapsed, interval time.Duration, n int) int {
	if elapsed < 0 {
		return 0
	}
	if interval <= 0 {
		return n
	}
	return int(min(int64(elapsed/interval)+1, int64(n)))
}

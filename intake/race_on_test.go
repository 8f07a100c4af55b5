//go:build race

package intake

// raceSlowdown scales the bounds of tests that time the intake's answer to
// a hostile webhook: the race detector makes the encoding they measure
// 5–10× slower (a 50-account, 6,000-package order took 16–18 s of its 20
// s bound on an idle machine and failed under CI's load).
const raceSlowdown = 5

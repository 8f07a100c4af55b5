//go:build race

package handlers

// raceEnabled scales the timing of tests that wait out a settle window:
// the race detector makes the calls inside it several times slower.
const raceEnabled = true

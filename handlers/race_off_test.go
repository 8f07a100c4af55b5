//go:build !race

package handlers

// raceEnabled is false without the race detector (race_on_test.go).
const raceEnabled = false

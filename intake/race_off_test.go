//go:build !race

package intake

// raceSlowdown: see race_on_test.go.
const raceSlowdown = 1

//go:build race

package messages

// raceEnabled scales the time bounds of tests: the race detector makes
// the code they time several times slower.
const raceEnabled = true

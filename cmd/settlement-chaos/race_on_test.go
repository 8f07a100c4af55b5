//go:build race

package main

// raceEnabled: the race detector slows the in-process sandboxes ~10×, past
// any sensible timeout for thousands of settlements.
const raceEnabled = true
